"""Execution quality against the NBBO: per-fill arithmetic and tiers, share-weighted aggregates, requester
and venue fills kept apart, the violations list, chart buckets, HTML page."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ops.reports.execution_quality import (
    Execution,
    QualityTally,
    ReportBuilder,
    Scope,
    Tier,
    TierThresholds,
    assess,
)
from ops.reports.html import render_html
from ops.reports.tables import report_tables, rule_605_table, tier_table

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # 10:00 New York
BID, OFFER = Decimal("227.43"), Decimal("227.44")


def _fill(side: str, price: str, quantity: str = "100", solver: str = "SOLVER1", bid: Decimal | None = BID,
          offer: Decimal | None = OFFER, at: datetime = T0, scope: Scope = Scope.REQUESTER) -> Execution:
    return Execution(solver, "AAPL", side, Decimal(quantity), Decimal(price), bid, offer, at, scope, f"ref-{price}")


# The reference's table (section 8), buy side against the NBO of 227.44: its four tiers.
@pytest.mark.parametrize(("price", "improvement", "tier"), [
    ("227.440", "0.000", Tier.AT),
    ("227.435", "0.005", Tier.IMPROVED),
    ("227.430", "0.010", Tier.SIGNIFICANT),
    ("227.450", "-0.010", Tier.VIOLATION),
])
def test_buy_improvement_is_measured_against_the_offer(price: str, improvement: str, tier: Tier) -> None:
    quality = assess(_fill("buy", price))
    assert quality is not None
    assert quality.tier is tier
    assert quality.improvement_per_share == Decimal(improvement)
    assert isinstance(quality.improvement_per_share, Decimal)


@pytest.mark.parametrize(("price", "improvement", "tier"), [
    ("227.43", "0", Tier.AT),
    ("227.4375", "0.0075", Tier.IMPROVED),
    ("227.45", "0.02", Tier.SIGNIFICANT),
    ("227.4299", "-0.0001", Tier.VIOLATION),
])
def test_sell_improvement_is_measured_against_the_bid(price: str, improvement: str, tier: Tier) -> None:
    quality = assess(_fill("sell", price))
    assert quality is not None
    assert (quality.tier, quality.improvement_per_share) == (tier, Decimal(improvement))


def test_the_significant_threshold_comes_from_the_configuration() -> None:
    strict = TierThresholds(significant_per_share=Decimal("0.005"))
    assert assess(_fill("buy", "227.435"), strict).tier is Tier.SIGNIFICANT  # type: ignore[union-attr]
    assert assess(_fill("buy", "227.4375"), strict).tier is Tier.IMPROVED  # type: ignore[union-attr]
    with pytest.raises(ValueError):
        TierThresholds(significant_per_share=Decimal(0))


def test_spreads_are_exact_decimals() -> None:
    at_midpoint = assess(_fill("buy", "227.435"))
    assert at_midpoint is not None
    assert at_midpoint.midpoint == Decimal("227.435")
    assert (at_midpoint.effective_spread, at_midpoint.quoted_spread) == (Decimal(0), Decimal("0.01"))
    assert at_midpoint.spread_ratio == Decimal(0)
    at_offer = assess(_fill("buy", "227.44"))
    assert at_offer is not None
    assert (at_offer.effective_spread, at_offer.spread_ratio) == (Decimal("0.01"), Decimal("1.0000"))
    # A third of the quoted spread: the ratio is rounded, half-even, to 4 places.
    third = assess(_fill("sell", "0.1", bid=Decimal("0.09"), offer=Decimal("0.12")))
    assert third is not None
    assert (third.effective_spread, third.quoted_spread, third.spread_ratio) == (
        Decimal("0.01"), Decimal("0.03"), Decimal("0.3333"))


def test_exactness_where_binary_floats_would_drift() -> None:
    quality = assess(_fill("buy", "0.2", bid=Decimal("0.1"), offer=Decimal("0.3")))
    assert quality is not None
    assert quality.improvement_per_share == Decimal("0.1")  # 0.3 - 0.2 is 0.09999999999999998 in floats
    assert quality.midpoint == Decimal("0.2")
    assert quality.effective_spread == Decimal(0)


def test_locked_market_has_no_ratio_and_no_nbbo_means_no_assessment() -> None:
    locked = assess(_fill("buy", "227.44", bid=OFFER, offer=OFFER))
    assert locked is not None
    assert (locked.tier, locked.quoted_spread, locked.spread_ratio) == (Tier.AT, Decimal(0), None)
    assert assess(_fill("buy", "227.44", bid=None, offer=None)) is None
    assert assess(_fill("buy", "227.44", bid=BID, offer=None)) is None


def test_aggregates_are_share_weighted_and_skip_fills_without_nbbo() -> None:
    tally = QualityTally()
    for execution in (_fill("buy", "227.43", "100"),  # +0.01 x 100, effective 0.01
                      _fill("buy", "227.442", "300"),  # -0.002 x 300, effective 0.014
                      _fill("sell", "227.43", "600"),  # 0 x 600, effective 0.01
                      _fill("buy", "1", "50", bid=None, offer=None)):
        tally.add(execution, assess(execution))
    summary = tally.summary("SOLVER1")
    assert (summary.fills, summary.without_nbbo) == (4, 1)
    assert summary.tiers == {Tier.SIGNIFICANT: 1, Tier.IMPROVED: 0, Tier.AT: 1, Tier.VIOLATION: 1}
    assert summary.pct_at_or_better == Decimal("66.7")  # 2 of the 3 measured fills
    assert summary.avg_improvement_per_share == Decimal("0.000400")  # (1 - 0.6 + 0) / 1000 shares
    assert summary.avg_effective_spread == Decimal("0.011200")  # (1 + 4.2 + 6) / 1000
    assert summary.avg_quoted_spread == Decimal("0.010000")
    assert summary.effective_to_quoted == Decimal("1.1200")
    # Rule 605 style: shares improved / at the quote / outside it, and the average amounts.
    assert (summary.shares, summary.improved_shares, summary.at_quote_shares, summary.outside_shares) == (
        Decimal(1000), Decimal(100), Decimal(600), Decimal(300))
    assert (summary.avg_improved_amount, summary.avg_outside_amount) == (Decimal("0.010000"), Decimal("0.002000"))


def test_no_measured_fill_leaves_nbbo_metrics_empty() -> None:
    tally = QualityTally()
    execution = _fill("buy", "1", bid=None, offer=None)
    tally.add(execution, assess(execution))
    summary = tally.summary("X")
    assert (summary.fills, summary.without_nbbo) == (1, 1)
    assert (summary.pct_at_or_better, summary.avg_improvement_per_share, summary.effective_to_quoted) == (
        None, None, None)


def _rows(table) -> dict[str, dict[str, str]]:
    return {row[0]: dict(zip(table.headers, row)) for row in table.rows}


def test_requester_and_venue_fills_are_reported_apart_never_summed() -> None:
    """52 trades settled through the broker are 52 requester fills and 52 venue fills: never 104 fills."""
    builder = ReportBuilder()
    for index in range(52):
        at = T0 + timedelta(minutes=index)
        builder.add(_fill("buy", "227.44", solver="BROKER", at=at))  # at the NBO for the requester
        builder.add(_fill("buy", "227.435", solver="BROKER@venue", at=at, scope=Scope.VENUE))  # midpoint at the venue
    report = builder.build(date(2026, 11, 20), date(2026, 11, 20))
    requester = _rows(tier_table(report.section(Scope.REQUESTER)))
    venue = _rows(tier_table(report.section(Scope.VENUE)))
    assert list(requester) == ["BROKER", "ALL_REQUESTER"] and list(venue) == ["BROKER@venue", "ALL_VENUE"]
    assert requester["ALL_REQUESTER"]["FILLS"] == "52" and venue["ALL_VENUE"]["FILLS"] == "52"
    assert (requester["ALL_REQUESTER"]["AT_NBBO"], requester["ALL_REQUESTER"]["AT_OR_BETTER_%"]) == ("52", "100")
    assert (venue["ALL_VENUE"]["IMPROVED"], venue["ALL_VENUE"]["AVG_IMPROVEMENT/SH"]) == ("52", "0.005")
    every_row = [row for table in report_tables(report) for row in table.rows]
    assert not [row for row in every_row if row[0] in ("ALL", "104") or "104" in row[1:2]]
    assert report.fills == 104 and report.violation_count == 0


def test_report_per_solver_tiers_rule_605_and_violations() -> None:
    builder = ReportBuilder()
    builder.add_all([_fill("buy", "227.435", solver="SOLVER2"), _fill("buy", "227.45", solver="SOLVER1"),
                     _fill("buy", "227.44", solver="SOLVER2", bid=None, offer=None),
                     _fill("sell", "227.42", "30", solver="BROKER@venue", scope=Scope.VENUE)])
    report = builder.build(date(2026, 11, 20), date(2026, 11, 20))
    tiers = _rows(tier_table(report.section(Scope.REQUESTER)))
    assert list(tiers) == ["SOLVER1", "SOLVER2", "ALL_REQUESTER"]
    assert (tiers["SOLVER2"]["AT_OR_BETTER_%"], tiers["SOLVER2"]["NO_NBBO"], tiers["SOLVER2"]["IMPROVED"]) == (
        "100", "1", "1")
    assert (tiers["SOLVER1"]["VIOLATION"], tiers["SOLVER1"]["AVG_IMPROVEMENT/SH"]) == ("1", "-0.01")
    assert (tiers["ALL_REQUESTER"]["FILLS"], tiers["ALL_REQUESTER"]["AT_OR_BETTER_%"]) == ("3", "50")
    shares = _rows(rule_605_table(report.section(Scope.REQUESTER)))
    assert (shares["ALL_REQUESTER"]["SHARES"], shares["ALL_REQUESTER"]["IMPROVED_SHARES"],
            shares["ALL_REQUESTER"]["OUTSIDE_QUOTE_SHARES"], shares["ALL_REQUESTER"]["OUTSIDE_AVG/SH"]) == (
        "200", "100", "100", "0.01")
    assert [(v.execution.solver, v.execution.scope, v.shortfall_per_share) for v in report.violations] == [
        ("SOLVER1", Scope.REQUESTER, Decimal("0.010")), ("BROKER@venue", Scope.VENUE, Decimal("0.01"))]
    violations = report_tables(report)[-1]
    assert violations.title.startswith("Violations") and [row[2] for row in violations.rows] == [
        "SOLVER1", "BROKER@venue"]
    assert report.without_nbbo == 1


def test_chart_buckets_follow_the_span_in_new_york_time() -> None:
    intraday = ReportBuilder()
    intraday.add_all([_fill("buy", "227.43", at=T0), _fill("buy", "227.44", at=T0 + timedelta(minutes=2)),
                      _fill("buy", "227.435", at=T0 + timedelta(minutes=7))])
    report = intraday.build(date(2026, 11, 20), date(2026, 11, 20))
    assert report.bucket == timedelta(minutes=5)
    points = report.series["SOLVER1"]
    assert [point.bucket_start for point in points] == [datetime(2026, 11, 20, 10, 0), datetime(2026, 11, 20, 10, 5)]
    assert [point.avg_improvement_per_share for point in points] == [Decimal("0.005000"), Decimal("0.005000")]
    month = ReportBuilder()
    month.add_all([_fill("buy", "227.43", at=T0 + timedelta(days=day)) for day in range(30)])
    month_report = month.build(date(2026, 11, 20), date(2026, 12, 19))
    assert month_report.bucket == timedelta(days=1)
    assert len(month_report.series["SOLVER1"]) == 30
    # 02:00 UTC on 21 November is still the 20th in New York.
    late = ReportBuilder()
    late.add_all([_fill("buy", "227.43", at=datetime(2026, 11, 21, 2, 0, tzinfo=timezone.utc)),
                  _fill("buy", "227.43", at=T0 + timedelta(days=20))])
    assert late.build(date(2026, 11, 20), date(2026, 12, 10)).series["SOLVER1"][0].bucket_start == datetime(
        2026, 11, 20)


def test_html_page_is_self_contained_with_table_and_chart() -> None:
    builder = ReportBuilder()
    builder.add_all([_fill("buy", "227.435", solver="<SOLVER&1>"), _fill("sell", "227.43", solver="BROKER@venue"),
                     _fill("buy", "227.43", solver="BROKER@venue", at=T0 + timedelta(hours=2)),
                     _fill("buy", "227.44", solver="BROKER@venue", bid=None, offer=None)])
    page = render_html(builder.build(date(2026, 11, 20), date(2026, 11, 20)), T0)
    assert page.startswith("<!DOCTYPE html>")
    assert '<table id="requester-tiers">' in page and '<table id="venue-rule605">' in page
    assert '<table id="violations">' in page and '<svg id="improvement-chart"' in page
    assert "&lt;SOLVER&amp;1&gt;" in page and "<SOLVER&1>" not in page
    assert "1 of 4 fills have no NBBO at execution" in page
    assert page.count("<circle") == 3  # one point per solver and 5-minute bucket with an NBBO
    assert not re.search(r"<script|<link|\ssrc=|\shref=|@import|url\(", page)


def test_html_page_without_measured_fills_says_so() -> None:
    builder = ReportBuilder()
    builder.add(_fill("buy", "1", bid=None, offer=None))
    page = render_html(builder.build(date(2026, 11, 20), date(2026, 11, 20)), T0)
    assert "nothing to chart" in page and "<svg" not in page


def test_chart_lines_break_over_gaps_in_trading() -> None:
    builder = ReportBuilder()
    # Three consecutive 5-minute buckets, then nothing for an hour, then two more.
    minutes = [0, 5, 10, 70, 75]
    builder.add_all([_fill("buy", "227.43", at=T0 + timedelta(minutes=minute)) for minute in minutes])
    page = render_html(builder.build(date(2026, 11, 20), date(2026, 11, 20)), T0)
    polylines = re.findall(r'<polyline [^>]*points="([^"]*)"', page)
    assert [len(points.split()) for points in polylines] == [3, 2]


def test_html_headers_break_between_words_only() -> None:
    builder = ReportBuilder()
    builder.add(_fill("buy", "227.435"))
    page = render_html(builder.build(date(2026, 11, 20), date(2026, 11, 20)), T0)
    assert "<th>EFFECTIVE/<wbr>QUOTED</th>" in page and "<th>AVG EFFECTIVE SPREAD</th>" in page
    assert "overflow-wrap: anywhere" not in page and "word-break: keep-all" in page
