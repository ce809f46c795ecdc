"""Collateral conversions (liquidations) the margin monitor opened, with their retries."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import NEVER_REUSE_IDS, Base, one_of
from db.types import DecimalText, UtcDateTime

LIQUIDATION_STATUSES = ("open", "filled", "retrying", "escalated", "resolved")


class LiquidationRow(Base):
    __tablename__ = "liquidations"
    __table_args__ = (
        CheckConstraint(one_of("status", LIQUIDATION_STATUSES), name="status"),
        Index(None, "account", "status"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    account: Mapped[str] = mapped_column(String(64))
    session: Mapped[str] = mapped_column(String(64))  # the account holder's FIX session (the RFQ's requester)
    symbol: Mapped[str] = mapped_column(String(32))
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
    mark: Mapped[Decimal] = mapped_column(DecimalText())
    limit_price: Mapped[Decimal] = mapped_column(DecimalText())
    shortfall: Mapped[Decimal] = mapped_column(DecimalText())
    rfq_id: Mapped[int | None] = mapped_column(Integer)  # the current attempt's RFQ
    client_req_id: Mapped[str | None] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    opened_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    text: Mapped[str | None] = mapped_column(String(256))
