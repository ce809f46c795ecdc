"""T+1 reconciliation: runs, their breaks, and custody position snapshots.

A run is identified by (trade_date, statement_sha256): reconciling the same statement again
replaces the run's breaks and snapshot in place, so a re-run never duplicates rows.
migrations/versions/0005_reconciliation.py creates exactly these tables.
"""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.base import one_of as _one_of
from db.types import DecimalText, UtcDateTime

# Mirrors settlement.reconciliation.BreakKind (tests/unit/test_reconciliation.py checks they agree).
BREAK_KINDS = (
    "missing_ours",
    "missing_theirs",
    "quantity_mismatch",
    "price_mismatch",
    "settlement_date_mismatch",
    "side_mismatch",
    "symbol_mismatch",
    "reserves_mismatch",
    "unsettled_venue_fill",
)
FILE_NAME_LENGTH = 512
SHA256_HEX_LENGTH = 64


class ReconRun(Base):
    __tablename__ = "recon_runs"
    __table_args__ = (UniqueConstraint("trade_date", "statement_sha256"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    trade_date: Mapped[date] = mapped_column(Date)
    settlement_date: Mapped[date] = mapped_column(Date)  # the expected one: next NYSE business day
    statement_file: Mapped[str] = mapped_column(String(FILE_NAME_LENGTH))
    statement_sha256: Mapped[str] = mapped_column(String(SHA256_HEX_LENGTH))
    statement_rows: Mapped[int] = mapped_column(Integer)
    positions_file: Mapped[str | None] = mapped_column(String(FILE_NAME_LENGTH))
    positions_sha256: Mapped[str | None] = mapped_column(String(SHA256_HEX_LENGTH))
    price_tolerance: Mapped[Decimal] = mapped_column(DecimalText())
    started_at: Mapped[datetime] = mapped_column(UtcDateTime())
    matched: Mapped[int] = mapped_column(Integer)
    breaks: Mapped[int] = mapped_column(Integer)


class ReconBreak(Base):
    __tablename__ = "recon_breaks"
    __table_args__ = (CheckConstraint(_one_of("kind", BREAK_KINDS), name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("recon_runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    trade_id: Mapped[str | None] = mapped_column(String(64))  # None for reserves breaks
    symbol: Mapped[str | None] = mapped_column(String(32))
    ours: Mapped[str | None] = mapped_column(Text)
    theirs: Mapped[str | None] = mapped_column(Text)


class CustodyPosition(Base):
    """One row of the venue's custody position report, as read by a run's reserves check."""

    __tablename__ = "custody_positions"
    __table_args__ = (UniqueConstraint("run_id", "account", "symbol"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("recon_runs.id"))
    as_of: Mapped[datetime] = mapped_column(UtcDateTime())
    account: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    cusip: Mapped[str | None] = mapped_column(String(9))
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
