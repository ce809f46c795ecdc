"""Execution quality against the NBBO: per-fill arithmetic, share-weighted aggregates, chart buckets, HTML page."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from ops.reports.execution_quality import Assessment, Execution, QualityTally, ReportBuilder, assess, summary_table
from ops.reports.html import render_html

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # 10:00 New York
BID, OFFER = Decimal("227.43"), Decimal("227.44")


def _fill(side: str, price: str, quantity: str = "100", solver: str = "SOLVER1", bid: Decimal | None = BID,
          offer: Decimal | None = OFFER, at: datetime = T0) -> Execution:
    return Execution(solver, "AAPL", side, Decimal(quantity), Decimal(price), bid, offer, at)


# The reference's table (section 8), buy side against the NBO of 227.44.
@pytest.mark.parametrize(("price", "improvement", "assessment"), [
    ("227.440", "0.000", Assessment.AT),
    ("227.435", "0.005", Assessment.BETTER),
    ("227.430", "0.010", Assessment.BETTER),
    ("227.450", "-0.010", Assessment.WORSE),
])
def test_buy_improvement_is_measured_against_the_offer(price: str, improvement: str, assessment: Assessment) -> None:
    quality = assess(_fill("buy", price))
    assert quality is not None
    assert quality.assessment is assessment
    assert quality.improvement_per_share == Decimal(improvement)
    assert isinstance(quality.improvement_per_share, Decimal)


@pytest.mark.parametrize(("price", "improvement", "assessment"), [
    ("227.43", "0", Assessment.AT),
    ("227.4375", "0.0075", Assessment.BETTER),
    ("227.4299", "-0.0001", Assessment.WORSE),
])
def test_sell_improvement_is_measured_against_the_bid(price: str, improvement: str, assessment: Assessment) -> None:
    quality = assess(_fill("sell", price))
    assert quality is not None
    assert (quality.assessment, quality.improvement_per_share) == (assessment, Decimal(improvement))


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
    assert (locked.assessment, locked.quoted_spread, locked.spread_ratio) == (Assessment.AT, Decimal(0), None)
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
    assert (summary.fills, summary.without_nbbo, summary.better, summary.at, summary.worse) == (4, 1, 1, 1, 1)
    assert summary.pct_at_or_better == Decimal("66.7")  # 2 of the 3 measured fills
    assert summary.avg_improvement_per_share == Decimal("0.000400")  # (1 - 0.6 + 0) / 1000 shares
    assert summary.avg_effective_spread == Decimal("0.011200")  # (1 + 4.2 + 6) / 1000
    assert summary.avg_quoted_spread == Decimal("0.010000")
    assert summary.effective_to_quoted == Decimal("1.1200")


def test_no_measured_fill_leaves_nbbo_metrics_empty() -> None:
    tally = QualityTally()
    execution = _fill("buy", "1", bid=None, offer=None)
    tally.add(execution, assess(execution))
    summary = tally.summary("X")
    assert (summary.fills, summary.without_nbbo) == (1, 1)
    assert (summary.pct_at_or_better, summary.avg_improvement_per_share, summary.effective_to_quoted) == (
        None, None, None)


def test_report_per_solver_and_overall() -> None:
    builder = ReportBuilder()
    builder.add_all([_fill("buy", "227.435", solver="SOLVER2"), _fill("buy", "227.45", solver="BROKER@venue"),
                     _fill("buy", "227.44", solver="SOLVER2", bid=None, offer=None)])
    report = builder.build(date(2026, 11, 20), date(2026, 11, 20))
    headers, rows = summary_table(report)
    by_solver = {row[0]: dict(zip(headers, row)) for row in rows}
    assert list(by_solver) == ["BROKER@venue", "SOLVER2", "ALL"]
    assert by_solver["SOLVER2"]["AT_OR_BETTER_%"] == "100"
    assert by_solver["SOLVER2"]["NO_NBBO"] == "1"
    assert by_solver["BROKER@venue"]["AVG_IMPROVEMENT/SH"] == "-0.01"
    assert by_solver["ALL"]["FILLS"] == "3"
    assert by_solver["ALL"]["AT_OR_BETTER_%"] == "50"
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
    assert '<table id="summary">' in page and '<svg id="improvement-chart"' in page
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
