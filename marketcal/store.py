"""The market calendar's SQL adapter: TradingRules from the reference tables (marketcal/models.py)."""
from __future__ import annotations

from datetime import time
from decimal import Decimal

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from marketcal.models import InstrumentRow, InstrumentSessionRow, MarketHolidayRow, QuantityLimitRow
from marketcal.sessions import (
    ALL_SESSIONS,
    Holiday,
    HolidayKind,
    InstrumentRules,
    MarketSession,
    QuantityLimits,
    TradingCalendar,
    TradingRules,
)

log = structlog.get_logger(__name__)


def load_trading_rules(session: Session) -> TradingRules:
    """Trading rules from the reference tables; raises ValueError on inconsistent rows."""
    calendar = TradingCalendar({holiday.day: holiday for holiday in _load_holidays(session)})
    overrides: dict[str, set[MarketSession]] = {}
    for session_row in session.scalars(select(InstrumentSessionRow)):
        overrides.setdefault(session_row.symbol, set()).add(MarketSession(session_row.session))
    defaults, specific = _load_limits(session)
    instruments: dict[str, InstrumentRules] = {}
    for row in session.scalars(select(InstrumentRow).order_by(InstrumentRow.symbol)):
        limits = {**defaults, **specific.get(row.symbol, {})}
        instruments[row.symbol] = InstrumentRules(
            symbol=row.symbol,
            sessions=frozenset(overrides.get(row.symbol, ALL_SESSIONS)),
            limits=limits,
            tick=row.tick,
            submission_window_s=row.submission_window_s,
            acceptance_window_s=row.acceptance_window_s,
        )
    log.info("trading_rules_loaded", instruments=sorted(instruments), holidays=len(calendar.holidays),
             holiday_years=sorted({day.year for day in calendar.holidays}))
    return TradingRules(calendar, instruments)


def _load_holidays(session: Session) -> list[Holiday]:
    rows = session.scalars(select(MarketHolidayRow).order_by(MarketHolidayRow.day))
    return [Holiday(row.day, row.name, HolidayKind(row.kind), _as_time(row.early_close_time)) for row in rows]


def _as_time(value: time | None) -> time | None:
    # Holiday times are whole minutes; drop any microseconds a driver may add.
    return None if value is None else value.replace(microsecond=0)


LimitsBySession = dict[MarketSession, QuantityLimits]


def _load_limits(session: Session) -> tuple[LimitsBySession, dict[str, LimitsBySession]]:
    """(defaults, per-symbol) quantity limits; SQL cannot keep null-symbol defaults unique, so this does."""
    defaults: LimitsBySession = {}
    specific: dict[str, LimitsBySession] = {}
    for row in session.scalars(select(QuantityLimitRow).order_by(QuantityLimitRow.id)):
        market_session = MarketSession(row.session)
        target = defaults if row.symbol is None else specific.setdefault(row.symbol, {})
        if market_session in target:
            raise ValueError(f"duplicate quantity limits for {row.symbol or 'the default'} in {row.session}")
        target[market_session] = QuantityLimits(_decimal(row.min_quantity), _decimal(row.max_quantity),
                                                _decimal(row.step))
    return defaults, specific


def _decimal(value: Decimal) -> Decimal:
    assert isinstance(value, Decimal), f"expected a Decimal from the database, got {type(value).__name__}"
    return value
