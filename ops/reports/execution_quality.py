"""Execution quality against the NBBO at execution time (pure, no I/O).

Per fill, from the side whose price is measured (buy: the price paid, sell: the price received):
    improvement per share  buy: NBO - price        sell: price - NBB   (positive is better than the NBBO)
    at or better           improvement >= 0
    effective spread       2 x |price - midpoint|, midpoint = (NBB + NBO) / 2
    quoted spread          NBO - NBB

Aggregates are share-weighted, as in SEC Rule 605: the average improvement per share is
sum(improvement x shares) / sum(shares), and the effective/quoted ratio is the share-weighted
average effective spread over the share-weighted average quoted spread (a locked market, with a
zero quoted spread, then does not divide by zero). Fills without an NBBO are counted but left out
of every NBBO metric.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.money import EXACT_CONTEXT, canonical_decimal_text

REPORT_TZ = ZoneInfo("America/New_York")
SIDES = frozenset({"buy", "sell"})
PRICE_PLACES = Decimal("0.000001")  # averages per share: sub-penny improvement stays visible
RATIO_PLACES = Decimal("0.0001")
PERCENT_PLACES = Decimal("0.1")
# Averages are rounded on purpose, to the places above; sums stay exact (EXACT_CONTEXT).
_ROUNDING = Context(prec=80, rounding=ROUND_HALF_EVEN)
BASE_BUCKET = timedelta(minutes=5)
# Chart buckets, finest first; the finest that keeps the chart under MAX_CHART_POINTS points wins.
CHART_BUCKETS = (timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1), timedelta(days=1),
                 timedelta(days=7))
MAX_CHART_POINTS = 200


class Assessment(StrEnum):
    BETTER = "better"
    AT = "at"
    WORSE = "worse"


@dataclass(frozen=True)
class Execution:
    """One fill to assess; `side` is the side whose execution quality is measured."""

    solver: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    nbbo_bid: Decimal | None
    nbbo_offer: Decimal | None
    executed_at: datetime

    def __post_init__(self) -> None:
        if self.side not in SIDES:
            raise ValueError(f"side must be buy or sell, got {self.side!r}")
        for name in ("quantity", "price", "nbbo_bid", "nbbo_offer"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, Decimal):
                raise TypeError(f"{name} must be a Decimal, got {value!r}")
        if not (self.quantity > 0 and self.price > 0):
            raise ValueError("quantity and price must be positive")
        if self.executed_at.tzinfo is None:
            raise ValueError("executed_at must be timezone-aware")

    @property
    def has_nbbo(self) -> bool:
        return self.nbbo_bid is not None and self.nbbo_offer is not None


@dataclass(frozen=True)
class FillQuality:
    assessment: Assessment
    improvement_per_share: Decimal
    midpoint: Decimal
    effective_spread: Decimal
    quoted_spread: Decimal
    spread_ratio: Decimal | None  # effective / quoted; None when the quoted spread is not positive


def assess(execution: Execution) -> FillQuality | None:
    """The fill's quality against its NBBO, or None when the NBBO at execution is unknown."""
    if execution.nbbo_bid is None or execution.nbbo_offer is None:
        return None
    bid, offer, price = execution.nbbo_bid, execution.nbbo_offer, execution.price
    with localcontext(EXACT_CONTEXT):
        improvement = offer - price if execution.side == "buy" else price - bid
        midpoint = (bid + offer) / 2
        effective = abs(2 * price - (bid + offer))
        quoted = offer - bid
    if improvement > 0:
        assessment = Assessment.BETTER
    elif improvement == 0:
        assessment = Assessment.AT
    else:
        assessment = Assessment.WORSE
    ratio = _divide(effective, quoted, RATIO_PLACES) if quoted > 0 else None
    return FillQuality(assessment, improvement, midpoint, effective, quoted, ratio)


def _divide(numerator: Decimal, denominator: Decimal, places: Decimal) -> Decimal:
    assert denominator != 0, "division by zero"
    return _ROUNDING.divide(numerator, denominator).quantize(places, context=_ROUNDING)


@dataclass(frozen=True)
class QualitySummary:
    """Aggregates over a set of fills; every NBBO metric is None when no fill had an NBBO."""

    solver: str
    fills: int
    without_nbbo: int
    better: int
    at: int
    worse: int
    pct_at_or_better: Decimal | None
    avg_improvement_per_share: Decimal | None
    avg_effective_spread: Decimal | None
    avg_quoted_spread: Decimal | None
    effective_to_quoted: Decimal | None


@dataclass
class QualityTally:
    """Running sums for one solver (or all): exact Decimal sums, averages only in summary()."""

    fills: int = 0
    without_nbbo: int = 0
    counts: dict[Assessment, int] = field(default_factory=lambda: dict.fromkeys(Assessment, 0))
    shares: Decimal = Decimal(0)
    improvement_amount: Decimal = Decimal(0)  # sum of improvement per share x shares
    effective_amount: Decimal = Decimal(0)
    quoted_amount: Decimal = Decimal(0)

    def add(self, execution: Execution, quality: FillQuality | None) -> None:
        self.fills += 1
        if quality is None:
            self.without_nbbo += 1
            return
        self.counts[quality.assessment] += 1
        with localcontext(EXACT_CONTEXT):
            self.shares += execution.quantity
            self.improvement_amount += quality.improvement_per_share * execution.quantity
            self.effective_amount += quality.effective_spread * execution.quantity
            self.quoted_amount += quality.quoted_spread * execution.quantity

    def summary(self, solver: str) -> QualitySummary:
        measured = self.fills - self.without_nbbo
        at_or_better = self.counts[Assessment.BETTER] + self.counts[Assessment.AT]
        has_shares = self.shares > 0
        return QualitySummary(
            solver=solver, fills=self.fills, without_nbbo=self.without_nbbo,
            better=self.counts[Assessment.BETTER], at=self.counts[Assessment.AT], worse=self.counts[Assessment.WORSE],
            pct_at_or_better=_divide(Decimal(100 * at_or_better), Decimal(measured), PERCENT_PLACES)
            if measured else None,
            avg_improvement_per_share=_divide(self.improvement_amount, self.shares, PRICE_PLACES)
            if has_shares else None,
            avg_effective_spread=_divide(self.effective_amount, self.shares, PRICE_PLACES) if has_shares else None,
            avg_quoted_spread=_divide(self.quoted_amount, self.shares, PRICE_PLACES) if has_shares else None,
            effective_to_quoted=_divide(self.effective_amount, self.quoted_amount, RATIO_PLACES)
            if self.quoted_amount > 0 else None,
        )


@dataclass(frozen=True)
class SeriesPoint:
    bucket_start: datetime  # New York wall-clock time, naive
    avg_improvement_per_share: Decimal
    shares: Decimal


@dataclass(frozen=True)
class ExecutionQualityReport:
    date_from: date
    date_to: date
    solvers: tuple[QualitySummary, ...]  # by solver name
    overall: QualitySummary
    series: dict[str, tuple[SeriesPoint, ...]]  # per solver, oldest first
    bucket: timedelta

    @property
    def without_nbbo(self) -> int:
        return self.overall.without_nbbo


class ReportBuilder:
    """Feed executions one at a time (memory stays bounded by solvers x 5-minute buckets)."""

    def __init__(self) -> None:
        self._overall = QualityTally()
        self._by_solver: dict[str, QualityTally] = {}
        self._buckets: dict[tuple[str, datetime], tuple[Decimal, Decimal]] = {}

    def add(self, execution: Execution) -> FillQuality | None:
        quality = assess(execution)
        self._overall.add(execution, quality)
        self._by_solver.setdefault(execution.solver, QualityTally()).add(execution, quality)
        if quality is not None:
            key = (execution.solver, floor_to_bucket(_local(execution.executed_at), BASE_BUCKET))
            amount, shares = self._buckets.get(key, (Decimal(0), Decimal(0)))
            with localcontext(EXACT_CONTEXT):
                self._buckets[key] = (amount + quality.improvement_per_share * execution.quantity,
                                      shares + execution.quantity)
        return quality

    def add_all(self, executions: Iterable[Execution]) -> None:
        for execution in executions:
            self.add(execution)

    def build(self, date_from: date, date_to: date) -> ExecutionQualityReport:
        bucket = _chart_bucket([start for _solver, start in self._buckets])
        return ExecutionQualityReport(
            date_from=date_from, date_to=date_to,
            solvers=tuple(tally.summary(solver) for solver, tally in sorted(self._by_solver.items())),
            overall=self._overall.summary("ALL"),
            series=self._series(bucket),
            bucket=bucket,
        )

    def _series(self, bucket: timedelta) -> dict[str, tuple[SeriesPoint, ...]]:
        merged: dict[str, dict[datetime, tuple[Decimal, Decimal]]] = {}
        for (solver, start), (amount, shares) in self._buckets.items():
            points = merged.setdefault(solver, {})
            coarse = floor_to_bucket(start, bucket)
            total_amount, total_shares = points.get(coarse, (Decimal(0), Decimal(0)))
            with localcontext(EXACT_CONTEXT):
                points[coarse] = (total_amount + amount, total_shares + shares)
        return {
            solver: tuple(SeriesPoint(start, _divide(amount, shares, PRICE_PLACES), shares)
                          for start, (amount, shares) in sorted(points.items()))
            for solver, points in sorted(merged.items())
        }


def _local(at: datetime) -> datetime:
    return at.astimezone(REPORT_TZ).replace(tzinfo=None)


def floor_to_bucket(local: datetime, bucket: timedelta) -> datetime:
    """Start of the bucket holding `local`: buckets of a day or less restart at midnight, weeks on Monday."""
    midnight = datetime.combine(local.date(), datetime.min.time())
    if bucket >= timedelta(days=7):
        return midnight - timedelta(days=local.weekday())
    if bucket >= timedelta(days=1):
        return midnight
    return midnight + ((local - midnight) // bucket) * bucket


def _chart_bucket(starts: list[datetime]) -> timedelta:
    if not starts:
        return CHART_BUCKETS[0]
    span = max(starts) - min(starts)
    for bucket in CHART_BUCKETS:
        if span // bucket < MAX_CHART_POINTS:
            return bucket
    return CHART_BUCKETS[-1]


def summary_table(report: ExecutionQualityReport) -> tuple[list[str], list[list[str]]]:
    """(headers, rows) of the per-solver table with an ALL row last; shared by the text and HTML reports."""
    headers = ["SOLVER", "FILLS", "NO_NBBO", "AT_OR_BETTER_%", "BETTER", "AT", "WORSE", "AVG_IMPROVEMENT/SH",
               "AVG_EFFECTIVE_SPREAD", "AVG_QUOTED_SPREAD", "EFFECTIVE/QUOTED"]
    rows = [_summary_row(summary) for summary in (*report.solvers, report.overall)]
    return headers, rows


def _summary_row(summary: QualitySummary) -> list[str]:
    return [summary.solver, str(summary.fills), str(summary.without_nbbo), _text(summary.pct_at_or_better),
            str(summary.better), str(summary.at), str(summary.worse), _text(summary.avg_improvement_per_share),
            _text(summary.avg_effective_spread), _text(summary.avg_quoted_spread),
            _text(summary.effective_to_quoted)]


def _text(value: Decimal | None) -> str:
    return "-" if value is None else canonical_decimal_text(value)


def footnotes(report: ExecutionQualityReport) -> list[str]:
    notes = ["Averages are share-weighted; EFFECTIVE/QUOTED is the average effective spread over the "
             "average quoted spread (SEC Rule 605 style); improvement > 0 is better than the NBBO."]
    if report.without_nbbo:
        notes.append(f"{report.without_nbbo} of {report.overall.fills} fills have no NBBO at execution: counted "
                     f"in FILLS and NO_NBBO, excluded from every NBBO metric.")
    return notes
