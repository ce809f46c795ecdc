"""When the venue trades, and on which days its trades are dated and settle (pure domain).

The venue trades whenever the US equity market has a session in progress (pre-market, regular,
post-market or overnight), as gateway.rules.market_hours defines them. Trades are dated in
America/New_York and settle on the next NYSE business day (T+1): a weekday that is not a full-close
holiday. Early-close days are business days.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Protocol

from marketcal.sessions import EXCHANGE_TZ, TRADING_WEEKDAYS, MarketSession, TradingCalendar
from venue_sim.errors import NaiveTimestamp, VenueConfigError

# Even 2001 (four days after 9/11) and 2012 (Hurricane Sandy) closed the exchange for under two weeks;
# a longer run means the holiday table is wrong, which must not pass silently.
MAX_CONSECUTIVE_CLOSED_DAYS = 14


class HolidayTableError(VenueConfigError):
    """The configured holidays leave no business day to settle on."""


class SessionCalendar(Protocol):
    """What the matching engine needs from a calendar (gateway.rules.market_hours.TradingCalendar fits)."""

    def session_at(self, at: datetime) -> MarketSession | None: ...

    def closed_reason(self, at: datetime) -> str | None: ...


def closed_text(calendar: SessionCalendar | None, at: datetime) -> str | None:
    """Why the venue does not trade at `at`, for an OrdRejReason 2 Text; None when it trades."""
    if calendar is None or calendar.session_at(at) is not None:
        return None
    reason = calendar.closed_reason(at) or "no market session"
    return f"exchange closed at {at.astimezone(EXCHANGE_TZ):%Y-%m-%d %H:%M} ET: {reason}"


def trade_date_of(executed_at: datetime) -> date:
    """The New York calendar date of an execution (the venue_fills.trade_date contract)."""
    # The moment comes from the injected clock, which a caller can get wrong (a naive datetime).
    if executed_at.tzinfo is None or executed_at.utcoffset() is None:
        raise NaiveTimestamp(f"{executed_at.isoformat()} has no UTC offset: cannot date it in New York")
    return executed_at.astimezone(EXCHANGE_TZ).date()


def is_business_day(day: date, calendar: TradingCalendar) -> bool:
    if day.weekday() not in TRADING_WEEKDAYS:
        return False
    holiday = calendar.holidays.get(day)
    return holiday is None or not holiday.is_full_close


def next_business_day(day: date, calendar: TradingCalendar) -> date:
    """The first NYSE business day after `day` (T+1 settlement date of a trade dated `day`)."""
    candidate = day + timedelta(days=1)
    for _ in range(MAX_CONSECUTIVE_CLOSED_DAYS):
        if is_business_day(candidate, calendar):
            return candidate
        candidate += timedelta(days=1)
    raise HolidayTableError(f"no business day within {MAX_CONSECUTIVE_CLOSED_DAYS} days after {day}: "
                            "the holiday table closes the exchange for longer than it ever has")
