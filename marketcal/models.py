"""Reference tables of the market calendar: instruments and their external ids, per-instrument
sessions, quantity limits and exchange holidays. app/reference_data.py seeds them from config;
marketcal/store.py turns them into TradingRules. The allowed values mirror marketcal.sessions'
enums (tests/unit/test_market_hours.py checks they agree)."""
from __future__ import annotations

from datetime import date, time
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, one_of
from db.types import DecimalText

MARKET_SESSIONS = ("pre_market", "regular", "post_market", "overnight")
HOLIDAY_KINDS = ("full", "early")
SYMBOL_LENGTH = 32


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
    __table_args__ = (CheckConstraint(one_of("session", MARKET_SESSIONS), name="session"),)

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
        CheckConstraint(one_of("session", MARKET_SESSIONS), name="session"),
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
        CheckConstraint(one_of("kind", HOLIDAY_KINDS), name="kind"),
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
