"""The record of each post-trade equity settlement call, keyed by its idempotency key.

The ledger entries say what moved; this row also remembers calls that moved nothing,
so a retry returns the first result instead of being worked out afresh."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.types import DecimalText, UtcDateTime


class EquitySettlementRecord(Base):
    __tablename__ = "equity_settlements"

    idempotency_key: Mapped[str] = mapped_column(String(128), primary_key=True)
    account: Mapped[str] = mapped_column(String(64))
    unsettled_equity: Mapped[Decimal] = mapped_column(DecimalText())
    borrow_limit: Mapped[Decimal] = mapped_column(DecimalText())
    drained_usdc: Mapped[Decimal] = mapped_column(DecimalText())
    borrowed_usdc: Mapped[Decimal] = mapped_column(DecimalText())
    drawn_usdc: Mapped[Decimal] = mapped_column(DecimalText())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
