"""Proof-of-reserves runs: per asset the liabilities, the reserves and the Merkle-sum root, and the
leaves (each account's balance) so an inclusion proof can be produced for any past run."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import NEVER_REUSE_IDS, Base
from db.types import DecimalText, UtcDateTime


class ReserveRun(Base):
    __tablename__ = "reserve_runs"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_at: Mapped[datetime] = mapped_column(UtcDateTime())
    trigger: Mapped[str] = mapped_column(String(16))  # "schedule" or "cli"


class ReserveAsset(Base):
    __tablename__ = "reserve_assets"
    __table_args__ = (UniqueConstraint("run_id", "asset"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reserve_runs.id"), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    liabilities: Mapped[Decimal] = mapped_column(DecimalText())
    reserves: Mapped[Decimal] = mapped_column(DecimalText())
    root_hash: Mapped[str] = mapped_column(String(64))
    accounts: Mapped[int] = mapped_column(Integer)


class ReserveLeaf(Base):
    __tablename__ = "reserve_leaves"
    __table_args__ = (UniqueConstraint("run_id", "asset", "account"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("reserve_runs.id"), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    account: Mapped[str] = mapped_column(String(64))
    balance: Mapped[Decimal] = mapped_column(DecimalText())
