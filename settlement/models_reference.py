"""Reference data: instruments, market calendar, accounts, entities and policy rules.

gateway.rules.reference seeds these tables from config/rfq.toml (and the holiday calendar library)
and turns them into the pure rule objects of gateway.rules; nothing else writes them.
migrations/versions/0002_reference_data.py creates exactly these tables.

The allowed values below mirror the enums of gateway.rules (tests/unit/test_compliance.py and
tests/unit/test_market_hours.py check they agree): settlement must not import the gateway.
"""
from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Time,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from settlement.models import Base, _one_of
from settlement.types import DecimalText

MARKET_SESSIONS = ("pre_market", "regular", "post_market", "overnight")
HOLIDAY_KINDS = ("full", "early")
CLIENT_CATEGORIES = ("retail", "professional", "eligible_counterparty")
POLICY_SCOPES = ("stock", "spot")
POLICY_EFFECTS = ("allow", "deny")

SYMBOL_LENGTH = 32
ACCOUNT_LENGTH = 64
LEI_LENGTH = 20


class InstrumentRow(Base):
    """A tradable stock and its external identifiers (the reference's token_external_symbol)."""

    __tablename__ = "instruments"

    symbol: Mapped[str] = mapped_column(String(SYMBOL_LENGTH), primary_key=True)
    cusip: Mapped[str | None] = mapped_column(String(9))
    pyth_symbol: Mapped[str] = mapped_column(String(64))
    dxfeed_symbol: Mapped[str] = mapped_column(String(64))
    venue_symbol: Mapped[str] = mapped_column(String(SYMBOL_LENGTH))
    tick: Mapped[Decimal] = mapped_column(DecimalText())
    # Durations, not money: floats are fine here. Null means the gateway-wide default.
    submission_window_s: Mapped[float | None] = mapped_column(Float())
    acceptance_window_s: Mapped[float | None] = mapped_column(Float())


class InstrumentSessionRow(Base):
    """Session override: a symbol with rows here trades only in those sessions; no rows, in all."""

    __tablename__ = "instrument_sessions"
    __table_args__ = (CheckConstraint(_one_of("session", MARKET_SESSIONS), name="session"),)

    symbol: Mapped[str] = mapped_column(ForeignKey("instruments.symbol"), primary_key=True)
    session: Mapped[str] = mapped_column(String(16), primary_key=True)


class QuantityLimitRow(Base):
    """Quantity bounds for one session; symbol null is the default for symbols without their own row.

    (symbol, session) is unique for symbols; SQL treats nulls as distinct, so the loader rejects
    duplicate defaults instead.
    """

    __tablename__ = "quantity_limits"
    __table_args__ = (
        UniqueConstraint("symbol", "session"),
        CheckConstraint(_one_of("session", MARKET_SESSIONS), name="session"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str | None] = mapped_column(ForeignKey("instruments.symbol"))
    session: Mapped[str] = mapped_column(String(16))
    min_quantity: Mapped[Decimal] = mapped_column(DecimalText())
    max_quantity: Mapped[Decimal] = mapped_column(DecimalText())
    step: Mapped[Decimal] = mapped_column(DecimalText())


class MarketHolidayRow(Base):
    """An exchange closure: a full day, or an early close of the regular session."""

    __tablename__ = "market_holidays"
    __table_args__ = (
        CheckConstraint(_one_of("kind", HOLIDAY_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'full' AND early_close_time IS NULL) OR (kind = 'early' AND early_close_time IS NOT NULL)",
            name="early_close_time",
        ),
    )

    day: Mapped[date] = mapped_column(Date, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(8))
    # Wall-clock time in America/New_York.
    early_close_time: Mapped[time | None] = mapped_column(Time())


class EntityRow(Base):
    """The legal entity behind accounts: LEI, FATCA reportability and client category."""

    __tablename__ = "entities"
    __table_args__ = (CheckConstraint(_one_of("client_category", CLIENT_CATEGORIES), name="client_category"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    lei: Mapped[str] = mapped_column(String(LEI_LENGTH), unique=True)
    fatca_reportable: Mapped[bool] = mapped_column(Boolean)
    client_category: Mapped[str] = mapped_column(String(32))


class AccountRow(Base):
    """A trading account (the FIX sessions' `account`): stocks flag and jurisdiction."""

    __tablename__ = "accounts"

    account: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH), primary_key=True)
    stocks_enabled: Mapped[bool] = mapped_column(Boolean)
    jurisdiction: Mapped[str] = mapped_column(String(8))
    entity_id: Mapped[str | None] = mapped_column(ForeignKey("entities.id"))


class PolicyRuleRow(Base):
    """ALLOW or DENY `target` (a symbol or the group "@stocks") in one jurisdiction and scope."""

    __tablename__ = "policy_rules"
    __table_args__ = (
        UniqueConstraint("jurisdiction", "scope", "target"),
        CheckConstraint(_one_of("scope", POLICY_SCOPES), name="scope"),
        CheckConstraint(_one_of("effect", POLICY_EFFECTS), name="effect"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    jurisdiction: Mapped[str] = mapped_column(String(8))
    scope: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(SYMBOL_LENGTH))
    effect: Mapped[str] = mapped_column(String(8))
