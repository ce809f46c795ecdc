"""The execution-quality report as tables of text cells, shared by the text and HTML renderings.

Per scope (requester fills, venue executions) two tables: the tiers, and the SEC Rule 605-style
share columns; then the violations list and the footnotes. No table adds the two scopes.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.money import canonical_decimal_text
from ops.reports.execution_quality import (
    REPORT_TZ,
    ExecutionQualityReport,
    QualitySummary,
    Scope,
    ScopeSection,
    Tier,
)

SCOPE_TITLES = {
    Scope.REQUESTER: "Requester fills (settled by the gateway; measured on the requester's side)",
    Scope.VENUE: "Venue executions (the broker's orders at the venue; measured on the broker's side)",
}


@dataclass(frozen=True)
class Table:
    key: str  # an identifier (HTML id)
    title: str
    headers: list[str]
    rows: list[list[str]]
    total_last: bool = True  # the last row is the scope's total
    text_columns: int = 1  # the first columns are text (left-aligned), the rest numbers

    @property
    def right_aligned(self) -> frozenset[int]:
        return frozenset(range(self.text_columns, len(self.headers)))


TIER_HEADERS = ["SOLVER", "FILLS", "NO_NBBO", "AT_OR_BETTER_%", "SIGNIFICANT", "IMPROVED", "AT_NBBO", "VIOLATION",
                "AVG_IMPROVEMENT/SH"]
RULE_605_HEADERS = ["SOLVER", "SHARES", "IMPROVED_SHARES", "IMPROVED_AVG/SH", "AT_QUOTE_SHARES",
                    "OUTSIDE_QUOTE_SHARES", "OUTSIDE_AVG/SH", "AVG_EFFECTIVE_SPREAD", "AVG_QUOTED_SPREAD",
                    "EFFECTIVE/QUOTED"]
VIOLATION_HEADERS = ["EXECUTED_NY", "SCOPE", "SOLVER", "REF", "SYMBOL", "SIDE", "SHARES", "PRICE", "NBB", "NBO",
                     "WORSE_BY/SH"]


def report_tables(report: ExecutionQualityReport) -> list[Table]:
    tables: list[Table] = []
    for section in report.sections:
        tables.append(tier_table(section))
        tables.append(rule_605_table(section))
    tables.append(violations_table(report))
    return tables


def tier_table(section: ScopeSection) -> Table:
    rows = [_tier_row(summary) for summary in (*section.solvers, section.overall)]
    return Table(f"{section.scope.value}-tiers", f"{SCOPE_TITLES[section.scope]}: tiers", TIER_HEADERS, rows)


def rule_605_table(section: ScopeSection) -> Table:
    rows = [_rule_605_row(summary) for summary in (*section.solvers, section.overall)]
    return Table(f"{section.scope.value}-rule605", f"{SCOPE_TITLES[section.scope]}: Rule 605-style shares",
                 RULE_605_HEADERS, rows)


def violations_table(report: ExecutionQualityReport) -> Table:
    rows = []
    for violation in report.violations:
        execution = violation.execution
        rows.append([_new_york(execution.executed_at), execution.scope.value, execution.solver, execution.ref or "-",
                     execution.symbol, execution.side, _text(execution.quantity), _text(execution.price),
                     _text(execution.nbbo_bid), _text(execution.nbbo_offer), _text(violation.shortfall_per_share)])
    listed = len(report.violations)
    title = f"Violations (fills worse than the NBBO): {report.violation_count}"
    if listed < report.violation_count:
        title += f", the first {listed} listed"
    return Table("violations", title, VIOLATION_HEADERS, rows, total_last=False,
                 text_columns=VIOLATION_HEADERS.index("SHARES"))


def _tier_row(summary: QualitySummary) -> list[str]:
    tiers = summary.tiers
    return [summary.solver, str(summary.fills), str(summary.without_nbbo), _text(summary.pct_at_or_better),
            str(tiers[Tier.SIGNIFICANT]), str(tiers[Tier.IMPROVED]), str(tiers[Tier.AT]), str(tiers[Tier.VIOLATION]),
            _text(summary.avg_improvement_per_share)]


def _rule_605_row(summary: QualitySummary) -> list[str]:
    return [summary.solver, _text(summary.shares), _text(summary.improved_shares), _text(summary.avg_improved_amount),
            _text(summary.at_quote_shares), _text(summary.outside_shares), _text(summary.avg_outside_amount),
            _text(summary.avg_effective_spread), _text(summary.avg_quoted_spread), _text(summary.effective_to_quoted)]


def _text(value: Decimal | None) -> str:
    return "-" if value is None else canonical_decimal_text(value)


def _new_york(at: datetime) -> str:
    return at.astimezone(REPORT_TZ).strftime("%Y-%m-%d %H:%M:%S")


def footnotes(report: ExecutionQualityReport) -> list[str]:
    significant = canonical_decimal_text(report.thresholds.significant_per_share)
    notes = [
        "Requester fills and venue executions are the two legs of the same trades: each has its own total "
        "(ALL_REQUESTER, ALL_VENUE) and they are never added together. A requester's price is the quote it "
        "accepted (with the solver's margin), so it is measured as the requester experienced it; the venue "
        "executions measure the broker's own routing.",
        f"Tiers: SIGNIFICANT improvement >= {significant} per share; IMPROVED > 0; AT_NBBO = 0; VIOLATION "
        "worse than the NBBO at execution (listed below). Requester fills are measured against the NBBO the "
        "solver's execution report carried (for the broker: the venue's NBBO at its execution), else the "
        "gateway's at settlement.",
        "Averages are share-weighted. Rule 605-style columns: IMPROVED_AVG/SH is the average improvement per "
        "price-improved share, OUTSIDE_AVG/SH the average amount per share by which fills outside the quote "
        "were worse; EFFECTIVE/QUOTED is the average effective spread over the average quoted spread.",
    ]
    if report.without_nbbo:
        notes.append(f"{report.without_nbbo} of {report.fills} fills have no NBBO at execution: counted "
                     f"in FILLS and NO_NBBO, excluded from every NBBO metric.")
    return notes
