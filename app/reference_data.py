"""Seeds the SQL reference tables from settings (marketcal/models.py, gateway/rules/models.py).

Seeding is an idempotent upsert: rows named by the configuration are inserted or updated, rows the
configuration does not name are left alone (remove those in SQL). The one exception is an
instrument's session override, which is a property of the instrument and is replaced as a whole.
Everything is validated through the domain types before the first write, so bad configuration
(an LEI with wrong check digits, min > max, ...) changes nothing.

Market holidays come from the exchange_calendars library at seeding time only (marketcal/holidays.py);
at run time the rules read the market_holidays rows (marketcal/store.py, gateway/rules/store.py).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from gateway.rules.compliance import (
    AccountProfile,
    Entity,
    PolicyRule,
)
from gateway.rules.models import AccountRow, EntityRow, PolicyRuleRow
from gateway.rules.store import load_compliance
from marketcal.holidays import exchange_holidays
from marketcal.models import InstrumentRow, InstrumentSessionRow, MarketHolidayRow, QuantityLimitRow
from marketcal.sessions import (
    Holiday,
    MarketSession,
    QuantityLimits,
)
from marketcal.store import load_trading_rules

if TYPE_CHECKING:
    from app.settings import InstrumentSection, Settings

log = structlog.get_logger(__name__)

def pyth_symbol_for(symbol: str) -> str:
    """Pyth Lazer's name for a US equity, used when the configuration gives none."""
    return f"Equity.US.{symbol}/USD"


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


