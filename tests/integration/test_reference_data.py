"""Reference data on SQLite and PostgreSQL: seeding from config/rfq.toml and the NYSE calendar, loading rules."""
from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import date, datetime, time
from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.reference_data import seed_reference_data
from app.settings import Settings
from core.refusal import RejectReason
from gateway.rules.models import AccountRow, EntityRow, PolicyRuleRow
from gateway.rules.store import load_compliance
from ledger.uow import SqlUnitOfWork
from marketcal.models import InstrumentRow, InstrumentSessionRow, MarketHolidayRow, QuantityLimitRow
from marketcal.sessions import ALL_SESSIONS, EXCHANGE_TZ, MarketSession
from marketcal.store import load_trading_rules

UowFactory = Callable[..., SqlUnitOfWork]
REFERENCE_TABLES = (InstrumentRow, InstrumentSessionRow, QuantityLimitRow, MarketHolidayRow, EntityRow, AccountRow,
                    PolicyRuleRow)
SEEDED_YEARS = (2026, 2027)


def seed(uow_factory: UowFactory, settings: Settings) -> None:
    with uow_factory() as uow:
        seed_reference_data(uow.session, settings)
        uow.commit()


def row_counts(uow_factory: UowFactory) -> dict[str, int]:
    with uow_factory() as uow:
        return {model.__tablename__: uow.session.scalar(select(func.count()).select_from(model))
                for model in REFERENCE_TABLES}


def load(uow_factory: UowFactory):
    with uow_factory() as uow:
        return load_trading_rules(uow.session), load_compliance(uow.session)


def stored_holidays(session: Session) -> dict[date, tuple[str, str, time | None]]:
    return {row.day: (row.name, row.kind, row.early_close_time)
            for row in session.scalars(select(MarketHolidayRow))}


def library_closures() -> tuple[set[date], dict[date, time]]:
    """NYSE full closes and early closes in SEEDED_YEARS, read through the library's holiday rules."""
    import exchange_calendars  # pandas: imported here so collecting the test suite stays fast

    start, end = f"{SEEDED_YEARS[0]}-01-01", f"{SEEDED_YEARS[-1]}-12-31"
    with warnings.catch_warnings():  # pandas 3.1 deprecation inside exchange_calendars 4.13
        warnings.simplefilter("ignore", DeprecationWarning)
        calendar = exchange_calendars.get_calendar("XNYS", start="2025-12-01", end="2028-01-31")
    full = {stamp.date() for stamp in calendar.regular_holidays.holidays(start=start, end=end)}
    full |= {stamp.date() for stamp in calendar.adhoc_holidays if start <= stamp.date().isoformat() <= end}
    early: dict[date, time] = {}
    for close_time, special in calendar.special_closes:
        early.update({stamp.date(): close_time for stamp in special.holidays(start=start, end=end)})
    for close_time, dates in calendar.special_closes_adhoc:
        early.update({stamp.date(): close_time for stamp in dates if start <= stamp.date().isoformat() <= end})
    return {day for day in full if day.weekday() < 5}, early


@pytest.fixture
def settings() -> Settings:
    return Settings()


def test_seeding_twice_is_idempotent(uow_factory: UowFactory, settings: Settings) -> None:
    seed(uow_factory, settings)
    first = row_counts(uow_factory)
    seed(uow_factory, settings)
    assert row_counts(uow_factory) == first
    assert first["instruments"] == len(settings.instruments) == 3
    assert first["accounts"] == len(settings.accounts)
    assert first["policy_rules"] == len(settings.policy_rules)
    assert first["quantity_limits"] == len(settings.quantity_limits)
    assert first["instrument_sessions"] == 0  # the development instruments trade in every session


def test_holiday_table_holds_the_library_calendar(uow_factory: UowFactory, settings: Settings) -> None:
    seed(uow_factory, settings)
    with uow_factory() as uow:
        holidays = stored_holidays(uow.session)
    full, early = library_closures()
    assert {day for day, (_, kind, _) in holidays.items() if kind == "full"} == full
    assert {day: close for day, (_, kind, close) in holidays.items() if kind == "early"} == early
    assert holidays[date(2026, 7, 3)][1] == "full"  # Independence Day (a Saturday) observed on Friday
    assert holidays[date(2026, 11, 26)][:2] == ("Thanksgiving", "full")
    assert holidays[date(2027, 3, 26)][:2] == ("Good Friday", "full")
    assert holidays[date(2027, 12, 24)][1] == "full"  # Christmas (a Saturday) observed on Friday
    assert holidays[date(2026, 11, 27)] == ("Black Friday", "early", time(13, 0))
    assert holidays[date(2026, 12, 24)] == ("Christmas Eve", "early", time(13, 0))
    assert holidays[date(2027, 11, 26)] == ("Black Friday", "early", time(13, 0))
    assert (len(full), len(early)) == (20, 3)


def test_loaded_trading_rules(uow_factory: UowFactory, settings: Settings) -> None:
    seed(uow_factory, settings)
    rules, _ = load(uow_factory)
    assert rules.calendar.covered_years() == frozenset(SEEDED_YEARS)
    assert set(rules.instruments) == {"AAPL", "MSFT", "NVDA"}
    assert rules.instruments["AAPL"].sessions == ALL_SESSIONS
    thanksgiving = datetime(2026, 11, 26, 11, 0, tzinfo=EXCHANGE_TZ)
    closed = rules.check("AAPL", Decimal(5), thanksgiving)
    assert closed is not None and closed.text == "AAPL: market closed (NYSE holiday: Thanksgiving)"
    assert rules.calendar.session_at(datetime(2026, 11, 27, 13, 0, tzinfo=EXCHANGE_TZ)) is MarketSession.POST_MARKET
    regular = datetime(2026, 11, 18, 11, 0, tzinfo=EXCHANGE_TZ)
    assert rules.check("NVDA", Decimal(50000), regular) is None  # NVDA's own regular-session limit
    assert rules.check("NVDA", Decimal(50001), regular) is not None
    assert rules.check("AAPL", Decimal(100000), regular) is None  # the default limit
    overnight = datetime(2026, 11, 18, 22, 0, tzinfo=EXCHANGE_TZ)
    too_big = rules.check("NVDA", Decimal(1001), overnight)
    assert too_big is not None and too_big.reason is RejectReason.INVALID_QUANTITY
    assert rules.is_on_tick("AAPL", Decimal("227.43")) and not rules.is_on_tick("AAPL", Decimal("227.435"))
    assert rules.check("TSLA", Decimal(5), regular).reason is RejectReason.UNKNOWN_SYMBOL


def test_loaded_compliance(uow_factory: UowFactory, settings: Settings) -> None:
    seed(uow_factory, settings)
    _, compliance = load(uow_factory)
    assert compliance.stock_symbols == frozenset({"AAPL", "MSFT", "NVDA"})
    assert compliance.authorize("REQ1", "AAPL") is None
    assert compliance.authorize("REQ1", "NVDA") is None  # the US SPOT rule on NVDA does not apply
    for account, symbol in (("REQ2", "AAPL"), ("REQ3", "AAPL"), ("REQ3", "NVDA"), ("NOBODY", "AAPL")):
        refusal = compliance.authorize(account, symbol)
        assert refusal is not None and refusal.reason is RejectReason.NOT_AUTHORIZED, (account, symbol)
    assert compliance.authorize("REQ3", "MSFT") is None  # symbol ALLOW beats the @stocks DENY
    req1 = compliance.accounts["REQ1"]
    assert req1.entity is not None and req1.entity.lei == "549300REQ1TRADING066"
    assert {name for name in ("SOLVER1", "SOLVER2", "BROKER") if compliance.accounts[name].entity} == {
        "SOLVER1", "SOLVER2", "BROKER"}


def test_seeding_applies_configuration_changes(uow_factory: UowFactory, settings: Settings) -> None:
    seed(uow_factory, settings)
    counts = row_counts(uow_factory)
    aapl, *others = settings.instruments
    changed = settings.model_copy(update={
        "instruments": [aapl.model_copy(update={"tick": Decimal("0.05"), "sessions": [MarketSession.REGULAR],
                                                 "submission_window_s": 15.0}), *others],
        "accounts": [a.model_copy(update={"stocks_enabled": False}) if a.account == "REQ1" else a
                     for a in settings.accounts],
        "quantity_limits": [q.model_copy(update={"step": Decimal("0.001"), "min_quantity": Decimal("0.001")})
                            if q.symbol is None and q.session is MarketSession.REGULAR else q
                            for q in settings.quantity_limits],
    })
    seed(uow_factory, changed)
    assert row_counts(uow_factory) == {**counts, "instrument_sessions": 1}
    rules, compliance = load(uow_factory)
    pre_market = datetime(2026, 11, 18, 8, 0, tzinfo=EXCHANGE_TZ)
    regular = datetime(2026, 11, 18, 11, 0, tzinfo=EXCHANGE_TZ)
    assert rules.instruments["AAPL"].tick == Decimal("0.05")
    assert rules.instruments["AAPL"].submission_window_s == 15.0
    assert rules.check("AAPL", Decimal(5), pre_market).reason is RejectReason.EXCHANGE_CLOSED
    assert rules.check("MSFT", Decimal("0.125"), regular) is None  # fractional default step, stored exactly
    assert compliance.authorize("REQ1", "AAPL") is not None
    seed(uow_factory, settings)  # back to the file: the session override is removed again
    rules, compliance = load(uow_factory)
    assert rules.instruments["AAPL"].sessions == ALL_SESSIONS
    assert rules.check("AAPL", Decimal(5), pre_market) is None
    assert compliance.authorize("REQ1", "AAPL") is None


def test_invalid_lei_in_configuration_writes_nothing(uow_factory: UowFactory, settings: Settings) -> None:
    first, *rest = settings.entities
    broken = settings.model_copy(update={"entities": [first.model_copy(update={"lei": first.lei[:-1] + "0"}), *rest]})
    with pytest.raises(ValueError, match="check digits"):
        seed(uow_factory, broken)
    assert set(row_counts(uow_factory).values()) == {0}


def test_invalid_lei_in_the_table_is_rejected_at_load(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.session.add(EntityRow(id="bad", name="Bad Data Ltd", lei="HWUPKR0MPOU8FGXBT395", fatca_reportable=False,
                                  client_category="retail"))
        uow.commit()
    with uow_factory() as uow, pytest.raises(ValueError, match="check digits"):
        load_compliance(uow.session)


def test_duplicate_default_limits_are_rejected_at_load(uow_factory: UowFactory, settings: Settings) -> None:
    seed(uow_factory, settings)
    with uow_factory() as uow:
        # SQL lets two null-symbol rows share a session (nulls are distinct); the loader does not.
        uow.session.add(QuantityLimitRow(symbol=None, session="regular", min_quantity=Decimal(1),
                                         max_quantity=Decimal(5), step=Decimal(1)))
        uow.commit()
    with uow_factory() as uow, pytest.raises(ValueError, match="duplicate quantity limits"):
        load_trading_rules(uow.session)
