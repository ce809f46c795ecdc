"""US equity market sessions, exchange holidays and per-instrument quantity limits (pure, no I/O).

Sessions, in America/New_York wall-clock time (so DST moves them in UTC, never in ET):

    PRE_MARKET   04:00-09:30  Mon-Fri
    REGULAR      09:30-16:00  Mon-Fri
    POST_MARKET  16:00-20:00  Mon-Fri
    OVERNIGHT    20:00-04:00  starting Sun-Thu evening (Sunday 20:00 to Monday 04:00, ...)

Every interval is closed at its start and open at its end: 09:30:00 is REGULAR, 09:29:59.999 is not.

Holidays (rows of the market_holidays table, from the exchange calendar):
- A full close has no pre-market, regular or post-market session. The overnight session ending on
  the morning of a full close does not run, nor the one starting on its evening. Overnight venues
  publish their own holiday schedules, which the exchange calendar does not carry; around a closed
  exchange the price feeds are stale and the broker has no primary market to hedge on, so the
  gateway stays closed rather than quote blind. An RFQ refused is recoverable; a fill the broker
  cannot cover is not.
- An early close ends the regular session at the holiday's early-close time (13:00 for NYSE) and the
  post-market session four hours later (17:00), as NYSE Arca's late session does; the overnight
  session starts at 20:00 as usual.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation, localcontext
from enum import StrEnum
from zoneinfo import ZoneInfo

from core.money import plain
from core.refusal import Refusal, RejectReason

EXCHANGE_TZ = ZoneInfo("America/New_York")
PRE_MARKET_OPEN = time(4, 0)
REGULAR_OPEN = time(9, 30)
REGULAR_CLOSE = time(16, 0)
POST_MARKET_CLOSE = time(20, 0)  # also when the overnight session starts
POST_MARKET_LENGTH = timedelta(hours=4)
TRADING_WEEKDAYS = frozenset({0, 1, 2, 3, 4})  # Monday..Friday (date.weekday())
OVERNIGHT_START_WEEKDAYS = frozenset({6, 0, 1, 2, 3})  # Sunday..Thursday evenings
# Remainders are computed with room for any NUMERIC(38, 12) value, so no quotient overflows.
_WIDE_PRECISION = 80


class MarketSession(StrEnum):
    PRE_MARKET = "pre_market"
    REGULAR = "regular"
    POST_MARKET = "post_market"
    OVERNIGHT = "overnight"

    @property
    def label(self) -> str:
        return _SESSION_LABELS[self]


_SESSION_LABELS = {
    MarketSession.PRE_MARKET: "pre-market",
    MarketSession.REGULAR: "regular",
    MarketSession.POST_MARKET: "post-market",
    MarketSession.OVERNIGHT: "overnight",
}
ALL_SESSIONS = frozenset(MarketSession)


class HolidayKind(StrEnum):
    FULL = "full"
    EARLY = "early"


@dataclass(frozen=True)
class Holiday:
    """An exchange closure on `day`; `early_close` (ET wall clock) only for early closes."""

    day: date
    name: str
    kind: HolidayKind
    early_close: time | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError(f"holiday {self.day} has no name")
        if self.kind is HolidayKind.FULL and self.early_close is not None:
            raise ValueError(f"full-close holiday {self.day} cannot have an early-close time")
        if self.kind is HolidayKind.EARLY:
            if self.early_close is None or not REGULAR_OPEN < self.early_close < REGULAR_CLOSE:
                raise ValueError(f"early close on {self.day} must be between 09:30 and 16:00, got {self.early_close}")

    @property
    def is_full_close(self) -> bool:
        return self.kind is HolidayKind.FULL


def _is_multiple(value: Decimal, step: Decimal) -> bool:
    with localcontext() as context:
        context.prec = _WIDE_PRECISION
        try:
            return value % step == 0
        except InvalidOperation:
            return False


@dataclass(frozen=True)
class SessionStatus:
    session: MarketSession | None
    closed_because: str = ""  # set when session is None, e.g. "weekend"


@dataclass(frozen=True)
class TradingCalendar:
    holidays: Mapping[date, Holiday] = field(default_factory=dict)
    exchange_name: str = "NYSE"  # only for texts shown to counterparties

    def __post_init__(self) -> None:
        for day, holiday in self.holidays.items():
            if day != holiday.day:
                raise ValueError(f"holiday keyed by {day} is for {holiday.day}")

    def covered_years(self) -> frozenset[int]:
        """Years with at least one holiday row: a year missing here was probably never seeded."""
        return frozenset(day.year for day in self.holidays)

    def session_at(self, at: datetime) -> MarketSession | None:
        """The session in progress at `at` (any timezone), or None when the market is closed."""
        return self.status_at(at).session

    def closed_reason(self, at: datetime) -> str | None:
        """Why no session runs at `at`, e.g. "NYSE holiday: Thanksgiving"; None when one does."""
        status = self.status_at(at)
        return None if status.session is not None else status.closed_because

    def status_at(self, at: datetime) -> SessionStatus:
        """The session at `at`, or None with the reason the market is closed."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"naive datetime {at!r}: trading hours need a timezone-aware time")
        local = at.astimezone(EXCHANGE_TZ)
        day, clock = local.date(), local.time()
        if clock < PRE_MARKET_OPEN:
            return self._overnight_status(start_day=day - timedelta(days=1))
        if clock >= POST_MARKET_CLOSE:
            return self._overnight_status(start_day=day)
        return self._day_status(day, clock)

    def _day_status(self, day: date, clock: time) -> SessionStatus:
        if day.weekday() not in TRADING_WEEKDAYS:
            return SessionStatus(None, "weekend")
        holiday = self.holidays.get(day)
        if holiday is not None and holiday.is_full_close:
            return SessionStatus(None, f"{self.exchange_name} holiday: {holiday.name}")
        regular_close, post_market_close = _closing_times(holiday)
        if clock < REGULAR_OPEN:
            return SessionStatus(MarketSession.PRE_MARKET)
        if clock < regular_close:
            return SessionStatus(MarketSession.REGULAR)
        if clock < post_market_close:
            return SessionStatus(MarketSession.POST_MARKET)
        assert holiday is not None, "only an early close leaves a gap before the overnight session"
        return SessionStatus(None, f"early close for {holiday.name}: post-market ended at {post_market_close:%H:%M} ET")

    def _overnight_status(self, start_day: date) -> SessionStatus:
        if start_day.weekday() not in OVERNIGHT_START_WEEKDAYS:
            return SessionStatus(None, "weekend")
        for day in (start_day, start_day + timedelta(days=1)):
            holiday = self.holidays.get(day)
            if holiday is not None and holiday.is_full_close:
                because = (f"no overnight session around {self.exchange_name} holiday: "
                           f"{holiday.name} ({day.isoformat()})")
                return SessionStatus(None, because)
        return SessionStatus(MarketSession.OVERNIGHT)


def _closing_times(holiday: Holiday | None) -> tuple[time, time]:
    """(regular close, post-market close) of a trading day."""
    if holiday is None or holiday.early_close is None:
        return REGULAR_CLOSE, POST_MARKET_CLOSE
    post_market_close = (datetime.combine(holiday.day, holiday.early_close) + POST_MARKET_LENGTH).time()
    assert holiday.early_close < post_market_close <= POST_MARKET_CLOSE
    return holiday.early_close, post_market_close


@dataclass(frozen=True)
class QuantityLimits:
    """Accepted quantities: min..max inclusive, in whole multiples of step (counted from zero)."""

    min_quantity: Decimal
    max_quantity: Decimal
    step: Decimal

    def __post_init__(self) -> None:
        for name in ("min_quantity", "max_quantity", "step"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ValueError(f"{name} must be a finite Decimal, got {value!r}")
        if self.step <= 0:
            raise ValueError(f"step must be positive, got {plain(self.step)}")
        if not 0 < self.min_quantity <= self.max_quantity:
            raise ValueError(f"need 0 < min <= max, got min {plain(self.min_quantity)} max {plain(self.max_quantity)}")
        if not (_is_multiple(self.min_quantity, self.step) and _is_multiple(self.max_quantity, self.step)):
            raise ValueError(f"min and max must be multiples of the step {plain(self.step)}")

    def problem(self, quantity: Decimal, session: MarketSession) -> str | None:
        """Why `quantity` is not accepted in `session`, or None. Assumes a positive quantity."""
        if quantity < self.min_quantity:
            return f"quantity {plain(quantity)} is below the minimum {plain(self.min_quantity)} " \
                   f"for the {session.label} session"
        if quantity > self.max_quantity:
            return f"quantity {plain(quantity)} is above the maximum {plain(self.max_quantity)} " \
                   f"for the {session.label} session"
        if not _is_multiple(quantity, self.step):
            return f"quantity {plain(quantity)} is not a multiple of {plain(self.step)}"
        return None


@dataclass(frozen=True)
class InstrumentRules:
    """What one symbol may trade: sessions, quantity limits per session, tick and RFQ windows.

    Window overrides are None when the gateway-wide defaults apply.
    """

    symbol: str
    sessions: frozenset[MarketSession]
    limits: Mapping[MarketSession, QuantityLimits]
    tick: Decimal
    submission_window_s: float | None = None
    acceptance_window_s: float | None = None

    def __post_init__(self) -> None:
        if not self.symbol:
            raise ValueError("instrument without a symbol")
        if not self.sessions:
            raise ValueError(f"{self.symbol}: trades in no session")
        missing = sorted(session.label for session in self.sessions - set(self.limits))
        if missing:
            raise ValueError(f"{self.symbol}: no quantity limits for the {', '.join(missing)} session(s)")
        if not isinstance(self.tick, Decimal) or not self.tick.is_finite() or self.tick <= 0:
            raise ValueError(f"{self.symbol}: tick must be a positive Decimal, got {self.tick!r}")
        for name in ("submission_window_s", "acceptance_window_s"):
            seconds = getattr(self, name)
            if seconds is not None and not seconds > 0:
                raise ValueError(f"{self.symbol}: {name} must be positive, got {seconds}")

    def traded_sessions_text(self) -> str:
        return ", ".join(session.label for session in MarketSession if session in self.sessions)


@dataclass(frozen=True)
class TradingRules:
    calendar: TradingCalendar
    instruments: Mapping[str, InstrumentRules]

    def __post_init__(self) -> None:
        for symbol, instrument in self.instruments.items():
            if symbol != instrument.symbol:
                raise ValueError(f"instrument rules keyed by {symbol} are for {instrument.symbol}")

    def check(self, symbol: str, quantity: Decimal, at: datetime) -> Refusal | None:
        """Why an RFQ for `quantity` of `symbol` at `at` is refused, or None if it may proceed.

        Checked in order: symbol, positive quantity, market session, the session's quantity limits.
        """
        # A programming error, not input: callers parse quantities into Decimals at the boundary.
        assert isinstance(quantity, Decimal), f"quantity must be a Decimal, got {type(quantity).__name__}"
        instrument = self.instruments.get(symbol)
        if instrument is None:
            return Refusal(RejectReason.UNKNOWN_SYMBOL, f"{symbol}: unknown symbol")
        if not quantity.is_finite() or quantity <= 0:
            return Refusal(RejectReason.INVALID_QUANTITY, f"{symbol}: quantity {quantity} is not positive")
        status = self.calendar.status_at(at)
        if status.session is None:
            return Refusal(RejectReason.EXCHANGE_CLOSED, f"{symbol}: market closed ({status.closed_because})")
        if status.session not in instrument.sessions:
            return Refusal(
                RejectReason.EXCHANGE_CLOSED,
                f"{symbol}: not traded in the {status.session.label} session "
                f"(trades in: {instrument.traded_sessions_text()})",
            )
        problem = instrument.limits[status.session].problem(quantity, status.session)
        if problem is not None:
            return Refusal(RejectReason.INVALID_QUANTITY, f"{symbol}: {problem}")
        return None

    def is_on_tick(self, symbol: str, price: Decimal) -> bool:
        """Whether `price` is a whole multiple of the symbol's tick; False for unknown symbols."""
        instrument = self.instruments.get(symbol)
        if instrument is None or not price.is_finite():
            return False
        return _is_multiple(price, instrument.tick)
