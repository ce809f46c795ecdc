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

Tiers (the reference's table): significant improvement (>= a configured amount per share),
improvement, at the NBBO, violation (worse than the NBBO; each one is listed). Requester fills and
the broker's venue executions are two scopes, each with its own totals: they are the two legs of
the same trades and are never added together.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.money import EXACT_CONTEXT

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


class Scope(StrEnum):
    """Whose executions: reported separately, never added together (the venue fills of the broker
    are how the requester fills it settled were sourced: summing them counts each trade twice)."""

    REQUESTER = "requester"  # the gateway's fills, measured on the requester's side
    VENUE = "venue"  # the broker's executions at the venue, measured on the broker's side


class Tier(StrEnum):
    """The reference's execution-quality tiers (nbbo-intents-solvers-rfq.txt, section 8)."""

    SIGNIFICANT = "significant_improvement"  # improvement >= the significant threshold
    IMPROVED = "improvement"  # 0 < improvement < the significant threshold
    AT = "at_nbbo"  # improvement == 0
    VIOLATION = "violation"  # worse than the NBBO


IMPROVED_TIERS = frozenset({Tier.SIGNIFICANT, Tier.IMPROVED})


@dataclass(frozen=True)
class TierThresholds:
    """From the configuration ([reports] in config/rfq.toml)."""

    significant_per_share: Decimal = Decimal("0.01")  # a cent a share, as in the reference's table

    def __post_init__(self) -> None:
        if not self.significant_per_share > 0:
            raise ValueError(f"the significant-improvement threshold must be positive, got {self.significant_per_share}")

    def tier(self, improvement: Decimal) -> Tier:
        if improvement >= self.significant_per_share:
            return Tier.SIGNIFICANT
        if improvement > 0:
            return Tier.IMPROVED
        return Tier.AT if improvement == 0 else Tier.VIOLATION


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
    scope: Scope = Scope.REQUESTER
    ref: str = ""  # what an auditor looks the fill up by (RFQ and ExecID, or the venue's ExecID)

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
    tier: Tier
    improvement_per_share: Decimal
    midpoint: Decimal
    effective_spread: Decimal
    quoted_spread: Decimal
    spread_ratio: Decimal | None  # effective / quoted; None when the quoted spread is not positive


def assess(execution: Execution, thresholds: TierThresholds = TierThresholds()) -> FillQuality | None:
    """The fill's quality against its NBBO, or None when the NBBO at execution is unknown."""
    if execution.nbbo_bid is None or execution.nbbo_offer is None:
        return None
    bid, offer, price = execution.nbbo_bid, execution.nbbo_offer, execution.price
    with localcontext(EXACT_CONTEXT):
        improvement = offer - price if execution.side == "buy" else price - bid
        midpoint = (bid + offer) / 2
        effective = abs(2 * price - (bid + offer))
        quoted = offer - bid
    ratio = _divide(effective, quoted, RATIO_PLACES) if quoted > 0 else None
    return FillQuality(thresholds.tier(improvement), improvement, midpoint, effective, quoted, ratio)


def _divide(numerator: Decimal, denominator: Decimal, places: Decimal) -> Decimal:
    assert denominator != 0, "division by zero"
    return _ROUNDING.divide(numerator, denominator).quantize(places, context=_ROUNDING)


def _average(amount: Decimal, shares: Decimal) -> Decimal | None:
    return _divide(amount, shares, PRICE_PLACES) if shares > 0 else None


@dataclass(frozen=True)
class QualitySummary:
    """Aggregates over a set of fills; every NBBO metric is None when no fill had an NBBO.

    The share columns follow SEC Rule 605: shares executed with price improvement (and the
    average improvement per improved share), at the quote, and outside the quote (and the
    average amount per share by which they were worse)."""

    solver: str
    fills: int
    without_nbbo: int
    tiers: dict[Tier, int]  # fills per tier
    pct_at_or_better: Decimal | None
    avg_improvement_per_share: Decimal | None
    shares: Decimal  # measured shares (fills with an NBBO)
    improved_shares: Decimal
    avg_improved_amount: Decimal | None
    at_quote_shares: Decimal
    outside_shares: Decimal
    avg_outside_amount: Decimal | None
    avg_effective_spread: Decimal | None
    avg_quoted_spread: Decimal | None
    effective_to_quoted: Decimal | None


@dataclass
class QualityTally:
    """Running sums for one solver (or all of one scope): exact Decimal sums, averages only in summary()."""

    fills: int = 0
    without_nbbo: int = 0
    counts: dict[Tier, int] = field(default_factory=lambda: dict.fromkeys(Tier, 0))
    shares_by_tier: dict[Tier, Decimal] = field(default_factory=lambda: dict.fromkeys(Tier, Decimal(0)))
    shares: Decimal = Decimal(0)
    improvement_amount: Decimal = Decimal(0)  # sum of improvement per share x shares
    improved_amount: Decimal = Decimal(0)  # the same over price-improved fills only
    outside_amount: Decimal = Decimal(0)  # sum of shortfall per share x shares over violations
    effective_amount: Decimal = Decimal(0)
    quoted_amount: Decimal = Decimal(0)

    def add(self, execution: Execution, quality: FillQuality | None) -> None:
        self.fills += 1
        if quality is None:
            self.without_nbbo += 1
            return
        self.counts[quality.tier] += 1
        with localcontext(EXACT_CONTEXT):
            amount = quality.improvement_per_share * execution.quantity
            self.shares_by_tier[quality.tier] += execution.quantity
            self.shares += execution.quantity
            self.improvement_amount += amount
            if quality.tier in IMPROVED_TIERS:
                self.improved_amount += amount
            elif quality.tier is Tier.VIOLATION:
                self.outside_amount -= amount
            self.effective_amount += quality.effective_spread * execution.quantity
            self.quoted_amount += quality.quoted_spread * execution.quantity

    def summary(self, solver: str) -> QualitySummary:
        measured = self.fills - self.without_nbbo
        at_or_better = measured - self.counts[Tier.VIOLATION]
        by_tier = self.shares_by_tier
        with localcontext(EXACT_CONTEXT):
            improved_shares = by_tier[Tier.SIGNIFICANT] + by_tier[Tier.IMPROVED]
        return QualitySummary(
            solver=solver, fills=self.fills, without_nbbo=self.without_nbbo, tiers=dict(self.counts),
            pct_at_or_better=_divide(Decimal(100 * at_or_better), Decimal(measured), PERCENT_PLACES)
            if measured else None,
            avg_improvement_per_share=_average(self.improvement_amount, self.shares),
            shares=self.shares, improved_shares=improved_shares,
            avg_improved_amount=_average(self.improved_amount, improved_shares),
            at_quote_shares=by_tier[Tier.AT], outside_shares=by_tier[Tier.VIOLATION],
            avg_outside_amount=_average(self.outside_amount, by_tier[Tier.VIOLATION]),
            avg_effective_spread=_average(self.effective_amount, self.shares),
            avg_quoted_spread=_average(self.quoted_amount, self.shares),
            effective_to_quoted=_divide(self.effective_amount, self.quoted_amount, RATIO_PLACES)
            if self.quoted_amount > 0 else None,
        )


@dataclass(frozen=True)
class Violation:
    """A fill worse than the NBBO at its execution."""

    execution: Execution
    shortfall_per_share: Decimal  # how much worse than the NBBO, positive


@dataclass(frozen=True)
class ScopeSection:
    scope: Scope
    solvers: tuple[QualitySummary, ...]  # by solver name
    overall: QualitySummary  # every solver of this scope, never another scope's fills


@dataclass(frozen=True)
class SeriesPoint:
    bucket_start: datetime  # New York wall-clock time, naive
    avg_improvement_per_share: Decimal
    shares: Decimal


@dataclass(frozen=True)
class ExecutionQualityReport:
    date_from: date
    date_to: date
    sections: tuple[ScopeSection, ...]  # requester fills first, then venue executions
    series: dict[str, tuple[SeriesPoint, ...]]  # per solver, oldest first
    bucket: timedelta
    thresholds: TierThresholds
    violations: tuple[Violation, ...]  # the first MAX_VIOLATIONS_LISTED, oldest first
    violation_count: int

    @property
    def without_nbbo(self) -> int:
        return sum(section.overall.without_nbbo for section in self.sections)

    @property
    def fills(self) -> int:
        return sum(section.overall.fills for section in self.sections)

    def section(self, scope: Scope) -> ScopeSection:
        return next(section for section in self.sections if section.scope is scope)


MAX_VIOLATIONS_LISTED = 500  # memory stays bounded; the count covers them all


class ReportBuilder:
    """Feed executions one at a time (memory stays bounded by solvers x 5-minute buckets)."""

    def __init__(self, thresholds: TierThresholds = TierThresholds()) -> None:
        self._thresholds = thresholds
        self._overall = {scope: QualityTally() for scope in Scope}
        self._by_solver: dict[tuple[Scope, str], QualityTally] = {}
        self._buckets: dict[tuple[str, datetime], tuple[Decimal, Decimal]] = {}
        self._violations: list[Violation] = []
        self._violation_count = 0

    def add(self, execution: Execution) -> FillQuality | None:
        quality = assess(execution, self._thresholds)
        self._overall[execution.scope].add(execution, quality)
        self._by_solver.setdefault((execution.scope, execution.solver), QualityTally()).add(execution, quality)
        if quality is None:
            return None
        if quality.tier is Tier.VIOLATION:
            self._violation_count += 1
            if len(self._violations) < MAX_VIOLATIONS_LISTED:
                self._violations.append(Violation(execution, -quality.improvement_per_share))
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
        sections = tuple(
            ScopeSection(scope, tuple(tally.summary(solver) for (of, solver), tally in sorted(self._by_solver.items())
                                      if of is scope),
                         self._overall[scope].summary(f"ALL_{scope.value.upper()}"))
            for scope in Scope)
        violations = tuple(sorted(self._violations, key=lambda v: v.execution.executed_at))
        return ExecutionQualityReport(date_from=date_from, date_to=date_to, sections=sections,
                                      series=self._series(bucket), bucket=bucket, thresholds=self._thresholds,
                                      violations=violations, violation_count=self._violation_count)

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
