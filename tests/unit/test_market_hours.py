"""Market sessions, holidays, per-symbol overrides, quantity limits and ticks (gateway.rules.market_hours)."""
from __future__ import annotations

from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest

from core.refusal import Refusal, RejectReason
from marketcal.models import HOLIDAY_KINDS, MARKET_SESSIONS
from marketcal.sessions import (
    ALL_SESSIONS,
    EXCHANGE_TZ,
    Holiday,
    HolidayKind,
    InstrumentRules,
    MarketSession,
    QuantityLimits,
    TradingCalendar,
    TradingRules,
)

PRE, REGULAR, POST, OVERNIGHT = (MarketSession.PRE_MARKET, MarketSession.REGULAR,
                                 MarketSession.POST_MARKET, MarketSession.OVERNIGHT)
THANKSGIVING = Holiday(date(2026, 11, 26), "Thanksgiving Day", HolidayKind.FULL)
BLACK_FRIDAY = Holiday(date(2026, 11, 27), "Day after Thanksgiving", HolidayKind.EARLY, time(13, 0))
CHRISTMAS_EVE = Holiday(date(2026, 12, 24), "Christmas Eve", HolidayKind.EARLY, time(13, 0))
CHRISTMAS = Holiday(date(2026, 12, 25), "Christmas Day", HolidayKind.FULL)
GOOD_FRIDAY = Holiday(date(2026, 4, 3), "Good Friday", HolidayKind.FULL)
CALENDAR = TradingCalendar({h.day: h for h in (THANKSGIVING, BLACK_FRIDAY, CHRISTMAS_EVE, CHRISTMAS, GOOD_FRIDAY)})

WHOLE_SHARES = QuantityLimits(Decimal(1), Decimal(100000), Decimal(1))
OVERNIGHT_LIMITS = QuantityLimits(Decimal(1), Decimal(1000), Decimal(1))
DEFAULT_LIMITS = {PRE: WHOLE_SHARES, REGULAR: WHOLE_SHARES, POST: WHOLE_SHARES, OVERNIGHT: OVERNIGHT_LIMITS}
RULES = TradingRules(CALENDAR, {
    "AAPL": InstrumentRules("AAPL", ALL_SESSIONS, DEFAULT_LIMITS, Decimal("0.01")),
    "REGO": InstrumentRules("REGO", frozenset({REGULAR}), {REGULAR: WHOLE_SHARES}, Decimal("0.05")),
    "FRAC": InstrumentRules("FRAC", ALL_SESSIONS, {
        **DEFAULT_LIMITS, REGULAR: QuantityLimits(Decimal("0.01"), Decimal("50"), Decimal("0.01")),
    }, Decimal("0.0001"), submission_window_s=30.0, acceptance_window_s=45.0),
})


def et(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=EXCHANGE_TZ)


def utc(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)


# 2026-11-18 is a Wednesday; 2026-11-16 a Monday.
@pytest.mark.parametrize(("at", "expected"), [
    (et(2026, 11, 18, 3, 59, 59), OVERNIGHT),
    (et(2026, 11, 18, 4, 0), PRE),
    (et(2026, 11, 18, 9, 29, 59), PRE),
    (et(2026, 11, 18, 9, 30), REGULAR),
    (et(2026, 11, 18, 15, 59, 59), REGULAR),
    (et(2026, 11, 18, 16, 0), POST),
    (et(2026, 11, 18, 19, 59, 59), POST),
    (et(2026, 11, 18, 20, 0), OVERNIGHT),
    (et(2026, 11, 18, 23, 59, 59), OVERNIGHT),
    (et(2026, 11, 16, 0, 0), OVERNIGHT),  # Monday: the overnight session that began on Sunday
    (et(2026, 11, 16, 3, 59, 59), OVERNIGHT),
    (et(2026, 11, 16, 4, 0), PRE),
])
def test_session_boundaries_on_a_weekday(at: datetime, expected: MarketSession) -> None:
    assert CALENDAR.session_at(at) is expected


def test_sub_second_before_the_open_is_still_pre_market() -> None:
    assert CALENDAR.session_at(et(2026, 11, 18, 9, 29, 59).replace(microsecond=999999)) is PRE


# 2026-11-20 is a Friday, 11-21 Saturday, 11-22 Sunday.
@pytest.mark.parametrize(("at", "expected"), [
    (et(2026, 11, 20, 19, 59, 59), POST),
    (et(2026, 11, 20, 20, 0), None),  # no overnight session starts on Friday
    (et(2026, 11, 21, 2, 0), None),
    (et(2026, 11, 21, 12, 0), None),
    (et(2026, 11, 22, 12, 0), None),
    (et(2026, 11, 22, 19, 59, 59), None),
    (et(2026, 11, 22, 20, 0), OVERNIGHT),  # Sunday 20:00 opens the week
])
def test_weekend(at: datetime, expected: MarketSession | None) -> None:
    assert CALENDAR.session_at(at) is expected


def test_weekend_reason() -> None:
    assert CALENDAR.closed_reason(et(2026, 11, 21, 12, 0)) == "weekend"
    assert CALENDAR.closed_reason(et(2026, 11, 22, 20, 0)) is None


@pytest.mark.parametrize("at", [
    et(2026, 11, 26, 3, 0),  # overnight session ending on the holiday's morning
    et(2026, 11, 26, 4, 0),
    et(2026, 11, 26, 10, 0),
    et(2026, 11, 26, 17, 0),
    et(2026, 11, 26, 21, 0),  # overnight session starting on the holiday's evening
    et(2026, 11, 27, 3, 59, 59),
])
def test_full_holiday_closes_every_session_including_adjacent_overnights(at: datetime) -> None:
    assert CALENDAR.session_at(at) is None


def test_days_around_a_full_holiday() -> None:
    assert CALENDAR.session_at(et(2026, 11, 25, 19, 59, 59)) is POST  # the eve still has post-market
    assert CALENDAR.session_at(et(2026, 11, 27, 4, 0)) is PRE  # the day after opens as usual
    assert CALENDAR.closed_reason(et(2026, 11, 26, 10, 0)) == "NYSE holiday: Thanksgiving Day"
    assert CALENDAR.closed_reason(et(2026, 11, 26, 21, 0)) == (
        "no overnight session around NYSE holiday: Thanksgiving Day (2026-11-26)")


def test_good_friday_closes_the_thursday_overnight_session() -> None:
    assert CALENDAR.session_at(et(2026, 4, 2, 19, 59, 59)) is POST
    assert CALENDAR.session_at(et(2026, 4, 2, 20, 0)) is None
    assert CALENDAR.session_at(et(2026, 4, 5, 20, 0)) is OVERNIGHT  # Sunday after: back to normal


@pytest.mark.parametrize(("at", "expected"), [
    (et(2026, 11, 27, 9, 30), REGULAR),
    (et(2026, 11, 27, 12, 59, 59), REGULAR),
    (et(2026, 11, 27, 13, 0), POST),  # regular ends at the early-close time
    (et(2026, 11, 27, 16, 59, 59), POST),
    (et(2026, 11, 27, 17, 0), None),  # post-market ends four hours after the early close
    (et(2026, 11, 27, 19, 59, 59), None),
])
def test_early_close(at: datetime, expected: MarketSession | None) -> None:
    assert CALENDAR.session_at(at) is expected


def test_early_close_reason_and_following_full_close() -> None:
    assert CALENDAR.closed_reason(et(2026, 11, 27, 17, 0)) == (
        "early close for Day after Thanksgiving: post-market ended at 17:00 ET")
    # Christmas Eve closes early and the overnight session into Christmas Day does not run.
    assert CALENDAR.session_at(et(2026, 12, 24, 16, 59, 59)) is POST
    assert CALENDAR.session_at(et(2026, 12, 24, 20, 0)) is None


def test_overnight_runs_after_an_early_close_followed_by_a_trading_day() -> None:
    early_tuesday = Holiday(date(2026, 11, 17), "Test early close", HolidayKind.EARLY, time(13, 0))
    calendar = TradingCalendar({early_tuesday.day: early_tuesday})
    assert calendar.session_at(et(2026, 11, 17, 18, 0)) is None
    assert calendar.session_at(et(2026, 11, 17, 20, 0)) is OVERNIGHT


# DST starts Sunday 2026-03-08 (EST UTC-5 -> EDT UTC-4) and ends Sunday 2026-11-01.
@pytest.mark.parametrize(("at", "expected"), [
    (utc(2026, 3, 6, 14, 29, 59), PRE),  # Friday before: 09:30 EST is 14:30 UTC
    (utc(2026, 3, 6, 14, 30), REGULAR),
    (utc(2026, 3, 8, 7, 30), None),  # Sunday 03:30 EDT, just after the clocks jumped
    (utc(2026, 3, 8, 23, 59, 59), None),  # Sunday 19:59:59 EDT
    (utc(2026, 3, 9, 0, 0), OVERNIGHT),  # Sunday 20:00 EDT
    (utc(2026, 3, 9, 7, 59, 59), OVERNIGHT),  # Monday 03:59:59 EDT
    (utc(2026, 3, 9, 8, 0), PRE),
    (utc(2026, 3, 9, 13, 29, 59), PRE),  # Monday after: 09:30 EDT is 13:30 UTC
    (utc(2026, 3, 9, 13, 30), REGULAR),
    (utc(2026, 10, 30, 19, 59, 59), REGULAR),  # Friday before: 16:00 EDT is 20:00 UTC
    (utc(2026, 10, 30, 20, 0), POST),
    (utc(2026, 11, 2, 0, 59, 59), None),  # Sunday 19:59:59 EST
    (utc(2026, 11, 2, 1, 0), OVERNIGHT),  # Sunday 20:00 EST
    (utc(2026, 11, 2, 20, 59, 59), REGULAR),  # Monday after: 16:00 EST is 21:00 UTC
    (utc(2026, 11, 2, 21, 0), POST),
])
def test_sessions_follow_new_york_wall_clock_across_dst(at: datetime, expected: MarketSession | None) -> None:
    assert CALENDAR.session_at(at) is expected


def test_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        CALENDAR.session_at(datetime(2026, 11, 18, 12, 0))


def test_holiday_validation() -> None:
    with pytest.raises(ValueError):
        Holiday(date(2026, 11, 27), "x", HolidayKind.EARLY)
    with pytest.raises(ValueError):
        Holiday(date(2026, 11, 26), "x", HolidayKind.FULL, time(13, 0))
    with pytest.raises(ValueError):
        Holiday(date(2026, 11, 27), "x", HolidayKind.EARLY, time(17, 0))
    with pytest.raises(ValueError):
        TradingCalendar({date(2026, 11, 25): THANKSGIVING})
    assert CALENDAR.covered_years() == frozenset({2026})


def test_enum_values_match_the_sql_check_constraints() -> None:
    assert tuple(MarketSession) == MARKET_SESSIONS
    assert tuple(HolidayKind) == HOLIDAY_KINDS


# ---- TradingRules.check ----

WEDNESDAY_REGULAR = et(2026, 11, 18, 11, 0)
WEDNESDAY_PRE = et(2026, 11, 18, 8, 0)
WEDNESDAY_OVERNIGHT = et(2026, 11, 18, 22, 0)


def test_accepted_rfq() -> None:
    assert RULES.check("AAPL", Decimal(5), WEDNESDAY_REGULAR) is None
    assert RULES.check("AAPL", Decimal(5), WEDNESDAY_OVERNIGHT) is None


def test_unknown_symbol() -> None:
    assert RULES.check("ZZZZ", Decimal(5), WEDNESDAY_REGULAR) == Refusal(
        RejectReason.UNKNOWN_SYMBOL, "ZZZZ: unknown symbol")


def test_closed_market_names_the_holiday() -> None:
    assert RULES.check("AAPL", Decimal(5), et(2026, 11, 26, 11, 0)) == Refusal(
        RejectReason.EXCHANGE_CLOSED, "AAPL: market closed (NYSE holiday: Thanksgiving Day)")
    assert RULES.check("AAPL", Decimal(5), et(2026, 11, 21, 11, 0)) == Refusal(
        RejectReason.EXCHANGE_CLOSED, "AAPL: market closed (weekend)")


def test_per_symbol_session_override() -> None:
    assert RULES.check("REGO", Decimal(5), WEDNESDAY_REGULAR) is None
    assert RULES.check("REGO", Decimal(5), WEDNESDAY_PRE) == Refusal(
        RejectReason.EXCHANGE_CLOSED, "REGO: not traded in the pre-market session (trades in: regular)")
    assert RULES.check("AAPL", Decimal(5), WEDNESDAY_PRE) is None


@pytest.mark.parametrize("quantity", [Decimal(0), Decimal(-1), Decimal("NaN"), Decimal("Infinity")])
def test_quantity_must_be_positive(quantity: Decimal) -> None:
    refusal = RULES.check("AAPL", quantity, WEDNESDAY_REGULAR)
    assert refusal is not None and refusal.reason is RejectReason.INVALID_QUANTITY
    assert "is not positive" in refusal.text


@pytest.mark.parametrize(("symbol", "quantity", "at", "text"), [
    ("AAPL", Decimal("2.5"), WEDNESDAY_REGULAR, "AAPL: quantity 2.5 is not a multiple of 1"),
    ("AAPL", Decimal("0.5"), WEDNESDAY_REGULAR, "AAPL: quantity 0.5 is below the minimum 1 for the regular session"),
    ("AAPL", Decimal(100001), WEDNESDAY_REGULAR,
     "AAPL: quantity 100001 is above the maximum 100000 for the regular session"),
    ("AAPL", Decimal(1001), WEDNESDAY_OVERNIGHT,
     "AAPL: quantity 1001 is above the maximum 1000 for the overnight session"),
    ("FRAC", Decimal("1.005"), WEDNESDAY_REGULAR, "FRAC: quantity 1.005 is not a multiple of 0.01"),
    ("FRAC", Decimal("50.01"), WEDNESDAY_REGULAR,
     "FRAC: quantity 50.01 is above the maximum 50 for the regular session"),
    ("FRAC", Decimal("0.5"), WEDNESDAY_PRE, "FRAC: quantity 0.5 is below the minimum 1 for the pre-market session"),
])
def test_quantity_limits(symbol: str, quantity: Decimal, at: datetime, text: str) -> None:
    assert RULES.check(symbol, quantity, at) == Refusal(RejectReason.INVALID_QUANTITY, text)


@pytest.mark.parametrize(("symbol", "quantity", "at"), [
    ("AAPL", Decimal(1), WEDNESDAY_REGULAR),
    ("AAPL", Decimal(100000), WEDNESDAY_REGULAR),
    ("AAPL", Decimal("7.000"), WEDNESDAY_REGULAR),  # trailing zeros are still whole shares
    ("AAPL", Decimal(1000), WEDNESDAY_OVERNIGHT),
    ("FRAC", Decimal("0.01"), WEDNESDAY_REGULAR),
    ("FRAC", Decimal("12.34"), WEDNESDAY_REGULAR),
])
def test_quantities_on_the_limits_are_accepted(symbol: str, quantity: Decimal, at: datetime) -> None:
    assert RULES.check(symbol, quantity, at) is None


def test_closed_market_is_reported_before_quantity_limits() -> None:
    refusal = RULES.check("AAPL", Decimal(10**9), et(2026, 11, 26, 11, 0))
    assert refusal is not None and refusal.reason is RejectReason.EXCHANGE_CLOSED


def test_float_quantity_is_a_programming_error() -> None:
    with pytest.raises(AssertionError):
        RULES.check("AAPL", 5.0, WEDNESDAY_REGULAR)  # type: ignore[arg-type]


def test_tick() -> None:
    assert RULES.is_on_tick("AAPL", Decimal("227.43"))
    assert RULES.is_on_tick("AAPL", Decimal("227.4300"))
    assert not RULES.is_on_tick("AAPL", Decimal("227.435"))
    assert RULES.is_on_tick("REGO", Decimal("10.05"))
    assert not RULES.is_on_tick("REGO", Decimal("10.07"))
    assert RULES.is_on_tick("FRAC", Decimal("0.9999"))
    assert not RULES.is_on_tick("ZZZZ", Decimal("1"))
    assert not RULES.is_on_tick("AAPL", Decimal("NaN"))


def test_window_overrides_are_plain_values() -> None:
    fractional = RULES.instruments["FRAC"]
    assert (fractional.submission_window_s, fractional.acceptance_window_s) == (30.0, 45.0)
    assert RULES.instruments["AAPL"].submission_window_s is None


@pytest.mark.parametrize(("minimum", "maximum", "step"), [
    ("1", "10", "0"),
    ("0", "10", "1"),
    ("11", "10", "1"),
    ("1.5", "10", "1"),
    ("1", "10.5", "1"),
])
def test_bad_quantity_limits_are_rejected(minimum: str, maximum: str, step: str) -> None:
    with pytest.raises(ValueError):
        QuantityLimits(Decimal(minimum), Decimal(maximum), Decimal(step))


def test_instrument_needs_limits_for_each_session_it_trades() -> None:
    with pytest.raises(ValueError, match="overnight"):
        InstrumentRules("X", frozenset({REGULAR, OVERNIGHT}), {REGULAR: WHOLE_SHARES}, Decimal("0.01"))
    with pytest.raises(ValueError):
        InstrumentRules("X", frozenset(), {}, Decimal("0.01"))
    with pytest.raises(ValueError):
        InstrumentRules("X", frozenset({REGULAR}), {REGULAR: WHOLE_SHARES}, Decimal(0))
