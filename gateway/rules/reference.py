"""Reference data adapter: seeds the SQL reference tables from settings and loads the trading rules.

Seeding is an idempotent upsert: rows named by the configuration are inserted or updated, rows the
configuration does not name are left alone (remove those in SQL). The one exception is an
instrument's session override, which is a property of the instrument and is replaced as a whole.
Everything is validated through the domain types before the first write, so bad configuration
(an LEI with wrong check digits, min > max, ...) changes nothing.

Market holidays come from the exchange_calendars library at seeding time only; at run time the
rules read the market_holidays rows, so a deployment can correct a date in SQL.
"""
from __future__ import annotations

import functools
import warnings
from collections.abc import Iterable, Mapping
from datetime import date, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.rules.compliance import (
    AccountProfile,
    ClientCategory,
    CompliancePolicy,
    Entity,
    PolicyEffect,
    PolicyRule,
    PolicyScope,
)
from gateway.rules.market_hours import (
    ALL_SESSIONS,
    EXCHANGE_TZ,
    REGULAR_CLOSE,
    REGULAR_OPEN,
    TRADING_WEEKDAYS,
    Holiday,
    HolidayKind,
    InstrumentRules,
    MarketSession,
    QuantityLimits,
    TradingCalendar,
    TradingRules,
)
from settlement.models_reference import (
    AccountRow,
    EntityRow,
    InstrumentRow,
    InstrumentSessionRow,
    MarketHolidayRow,
    PolicyRuleRow,
    QuantityLimitRow,
)

if TYPE_CHECKING:
    from gateway.settings import InstrumentSection, Settings

log = structlog.get_logger(__name__)

UNNAMED_CLOSURE = "Special closure"  # ad hoc closures (e.g. a national day of mourning) carry no name
UNNAMED_EARLY_CLOSE = "Early close"
_CALENDAR_MARGIN = timedelta(days=14)


def pyth_symbol_for(symbol: str) -> str:
    """Pyth Lazer's name for a US equity, used when the configuration gives none."""
    return f"Equity.US.{symbol}/USD"


# ---- holiday source (exchange_calendars) ----


def exchange_holidays(exchange: str, years: Iterable[int]) -> tuple[Holiday, ...]:
    """Full closes and early closes of `exchange` (an exchange_calendars code) in `years`."""
    return _exchange_holidays(exchange, tuple(sorted(set(years))))


@functools.lru_cache(maxsize=8)
def _exchange_holidays(exchange: str, years: tuple[int, ...]) -> tuple[Holiday, ...]:
    assert years, "no holiday years requested"
    start, end = date(years[0], 1, 1), date(years[-1], 12, 31)
    calendar = _library_calendar(exchange, start, end)
    if calendar.weekmask != "1111100":
        raise ValueError(f"{exchange} does not trade Monday to Friday; market_hours assumes it does")
    holidays = _full_closes(calendar, start, end) + _early_closes(calendar, start, end)
    return tuple(sorted((holiday for holiday in holidays if holiday.day.year in years), key=lambda h: h.day))


def _library_calendar(exchange: str, start: date, end: date) -> Any:
    # pandas and the calendar library load slowly and are only needed here, at seeding time.
    import exchange_calendars

    with warnings.catch_warnings():
        # exchange_calendars 4.13 reads Series.values, deprecated in pandas 3.1 (it still returns the
        # UTC values the library expects); tests/integration/test_reference_data.py checks the dates.
        warnings.simplefilter("ignore", DeprecationWarning)
        # The library's bounds must be sessions; a margin keeps 1 January (always closed) inside them.
        return exchange_calendars.get_calendar(
            exchange, start=(start - _CALENDAR_MARGIN).isoformat(), end=(end + _CALENDAR_MARGIN).isoformat()
        )


def _names(calendars: Iterable[Any], start: date, end: date) -> dict[date, str]:
    names: dict[date, str] = {}
    for holiday_calendar in calendars:
        if not hasattr(holiday_calendar, "holidays"):
            continue  # an ad hoc list of dates: no names
        dated_names = holiday_calendar.holidays(start=start.isoformat(), end=end.isoformat(), return_name=True)
        names.update({stamp.date(): str(name) for stamp, name in dated_names.items()})
    return names


def _full_closes(calendar: Any, start: date, end: date) -> list[Holiday]:
    names = _names([calendar.regular_holidays], start, end)
    sessions = {stamp.date() for stamp in calendar.sessions_in_range(start.isoformat(), end.isoformat())}
    closed: list[Holiday] = []
    day = start
    while day <= end:
        if day.weekday() in TRADING_WEEKDAYS and day not in sessions:
            closed.append(Holiday(day, names.get(day, UNNAMED_CLOSURE), HolidayKind.FULL))
        day += timedelta(days=1)
    return closed


def _early_closes(calendar: Any, start: date, end: date) -> list[Holiday]:
    names = _names([special for _close, special in calendar.special_closes], start, end)
    schedule = calendar.schedule.loc[start.isoformat():end.isoformat()]
    early: list[Holiday] = []
    for stamp, row in schedule.iterrows():
        day = stamp.date()
        opens_at = row["open"].tz_convert(str(EXCHANGE_TZ)).time()
        closes_at = row["close"].tz_convert(str(EXCHANGE_TZ)).time()
        if opens_at != REGULAR_OPEN:
            raise ValueError(f"{day}: the exchange opens at {opens_at}; late opens are not supported")
        if closes_at != REGULAR_CLOSE:
            early.append(Holiday(day, names.get(day, UNNAMED_EARLY_CLOSE), HolidayKind.EARLY, closes_at))
    return early


# ---- seeding ----


def seed_reference_data(session: Session, settings: Settings) -> None:
    """Upsert instruments, limits, entities, accounts, policy rules and holidays; the caller commits.

    Raises ValueError (and the caller should roll back) if the result would not load as rules.
    """
    holidays = exchange_holidays(settings.calendar.exchange, settings.calendar.holiday_years)
    _validate(settings)
    _seed_instruments(session, settings.instruments)
    _seed_quantity_limits(session, settings)
    _seed_entities(session, settings)
    _seed_accounts(session, settings)
    _seed_policy_rules(session, settings)
    _seed_holidays(session, holidays)
    # The stored rows as a whole (including rows the configuration does not name) must make
    # consistent rules, e.g. every session an instrument trades in has quantity limits.
    load_trading_rules(session)
    load_compliance(session)
    log.info(
        "reference_data_seeded",
        instruments=len(settings.instruments),
        quantity_limits=len(settings.quantity_limits),
        entities=len(settings.entities),
        accounts=len(settings.accounts),
        policy_rules=len(settings.policy_rules),
        holidays=len(holidays),
        holiday_years=sorted(set(settings.calendar.holiday_years)),
    )


def _validate(settings: Settings) -> None:
    """Build every domain object once so that invalid configuration raises before any write."""
    symbols = {instrument.symbol for instrument in settings.instruments}
    for limit in settings.quantity_limits:
        QuantityLimits(limit.min_quantity, limit.max_quantity, limit.step)
        if limit.symbol is not None and limit.symbol not in symbols:
            raise ValueError(f"quantity limit for unknown instrument {limit.symbol}")
    entity_ids = {section.id for section in settings.entities}
    for section in settings.entities:
        Entity(section.id, section.name, section.lei, section.fatca_reportable, section.category)
    for account in settings.accounts:
        AccountProfile(account.account, account.stocks_enabled, account.jurisdiction)
        if account.entity is not None and account.entity not in entity_ids:
            raise ValueError(f"account {account.account}: unknown entity {account.entity}")
    for rule in settings.policy_rules:
        PolicyRule(rule.jurisdiction, rule.scope, rule.target, rule.effect)


def _upsert(session: Session, model: type[Any], match: Mapping[str, Any], values: Mapping[str, Any]) -> None:
    conditions = [getattr(model, name).is_(None) if value is None else getattr(model, name) == value
                  for name, value in match.items()]
    row = session.scalars(select(model).where(*conditions)).one_or_none()
    if row is None:
        session.add(model(**match, **values))
        return
    for name, value in values.items():
        setattr(row, name, value)


def _seed_instruments(session: Session, instruments: Iterable[InstrumentSection]) -> None:
    for instrument in instruments:
        _upsert(session, InstrumentRow, {"symbol": instrument.symbol}, {
            "cusip": instrument.cusip,
            "pyth_symbol": instrument.pyth_symbol or pyth_symbol_for(instrument.symbol),
            "dxfeed_symbol": instrument.dxfeed_symbol or instrument.symbol,
            "venue_symbol": instrument.venue_symbol or instrument.symbol,
            "tick": instrument.tick,
            "submission_window_s": instrument.submission_window_s,
            "acceptance_window_s": instrument.acceptance_window_s,
        })
    session.flush()  # session overrides and limits refer to these rows
    for instrument in instruments:
        _replace_sessions(session, instrument.symbol, set(instrument.sessions or ()))


def _replace_sessions(session: Session, symbol: str, wanted: set[MarketSession]) -> None:
    stored = set(session.scalars(select(InstrumentSessionRow.session).where(InstrumentSessionRow.symbol == symbol)))
    extra = stored - {str(wanted_session) for wanted_session in wanted}
    if extra:
        session.execute(delete(InstrumentSessionRow).where(
            InstrumentSessionRow.symbol == symbol, InstrumentSessionRow.session.in_(extra)))
    for missing in sorted(str(wanted_session) for wanted_session in wanted if str(wanted_session) not in stored):
        session.add(InstrumentSessionRow(symbol=symbol, session=missing))


def _seed_quantity_limits(session: Session, settings: Settings) -> None:
    for limit in settings.quantity_limits:
        _upsert(session, QuantityLimitRow, {"symbol": limit.symbol, "session": str(limit.session)}, {
            "min_quantity": limit.min_quantity,
            "max_quantity": limit.max_quantity,
            "step": limit.step,
        })
    session.flush()


def _seed_entities(session: Session, settings: Settings) -> None:
    for entity in settings.entities:
        _upsert(session, EntityRow, {"id": entity.id}, {
            "name": entity.name,
            "lei": entity.lei,
            "fatca_reportable": entity.fatca_reportable,
            "client_category": str(entity.category),
        })
    session.flush()  # accounts refer to these rows


def _seed_accounts(session: Session, settings: Settings) -> None:
    for account in settings.accounts:
        _upsert(session, AccountRow, {"account": account.account}, {
            "stocks_enabled": account.stocks_enabled,
            "jurisdiction": account.jurisdiction,
            "entity_id": account.entity,
        })
    session.flush()


def _seed_policy_rules(session: Session, settings: Settings) -> None:
    for rule in settings.policy_rules:
        match = {"jurisdiction": rule.jurisdiction, "scope": str(rule.scope), "target": rule.target}
        _upsert(session, PolicyRuleRow, match, {"effect": str(rule.effect)})
    session.flush()


def _seed_holidays(session: Session, holidays: Iterable[Holiday]) -> None:
    for holiday in holidays:
        _upsert(session, MarketHolidayRow, {"day": holiday.day}, {
            "name": holiday.name,
            "kind": str(holiday.kind),
            "early_close_time": holiday.early_close,
        })
    session.flush()


# ---- loading ----


def load_trading_rules(session: Session) -> TradingRules:
    """Trading rules from the reference tables; raises ValueError on inconsistent rows."""
    calendar = TradingCalendar({holiday.day: holiday for holiday in _load_holidays(session)})
    overrides: dict[str, set[MarketSession]] = {}
    for row in session.scalars(select(InstrumentSessionRow)):
        overrides.setdefault(row.symbol, set()).add(MarketSession(row.session))
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


def load_compliance(session: Session) -> CompliancePolicy:
    """Compliance policy from the reference tables; an invalid LEI raises ValueError."""
    entities = {
        row.id: Entity(row.id, row.name, row.lei, row.fatca_reportable, ClientCategory(row.client_category))
        for row in session.scalars(select(EntityRow))
    }
    accounts = {
        row.account: AccountProfile(row.account, row.stocks_enabled, row.jurisdiction,
                                    None if row.entity_id is None else entities[row.entity_id])
        for row in session.scalars(select(AccountRow))
    }
    rules = tuple(
        PolicyRule(row.jurisdiction, PolicyScope(row.scope), row.target, PolicyEffect(row.effect))
        for row in session.scalars(select(PolicyRuleRow).order_by(PolicyRuleRow.id))
    )
    stock_symbols = frozenset(session.scalars(select(InstrumentRow.symbol)))
    log.info("compliance_loaded", accounts=len(accounts), entities=len(entities), rules=len(rules))
    return CompliancePolicy(accounts, rules, stock_symbols)
