"""The ledger's tables: accounts with materialised balances, journal entries and lines, holds,
and the transactional outbox of domain events."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import NEVER_REUSE_IDS, Base, one_of
from db.types import DecimalText, UtcDateTime

ENTRY_KINDS = ("deposit", "lock", "post", "void", "transfer")
BUCKETS = ("available", "locked")
HOLD_STATUSES = ("pending", "posted", "voided")


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("owner", "asset"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(16))
    available: Mapped[Decimal] = mapped_column(DecimalText())
    locked: Mapped[Decimal] = mapped_column(DecimalText())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        CheckConstraint(one_of("kind", ENTRY_KINDS), name="kind"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    rfq_id: Mapped[int | None] = mapped_column(Integer, index=True)
    hold_id: Mapped[str | None] = mapped_column(String(64))
    description: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class JournalLine(Base):
    __tablename__ = "journal_lines"
    __table_args__ = (
        CheckConstraint(one_of("bucket", BUCKETS), name="bucket"),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"), index=True)
    asset: Mapped[str] = mapped_column(String(16))
    bucket: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(DecimalText())


class Hold(Base):
    __tablename__ = "holds"
    __table_args__ = (
        CheckConstraint(one_of("status", HOLD_STATUSES), name="status"),
        Index(None, "account_id", "status"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rfq_id: Mapped[int | None] = mapped_column(Integer, index=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("ledger_accounts.id"))
    asset: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(DecimalText())
    status: Mapped[str] = mapped_column(String(16))
    posted_amount: Mapped[Decimal | None] = mapped_column(DecimalText())
    released_amount: Mapped[Decimal | None] = mapped_column(DecimalText())
    beneficiary_account_id: Mapped[int | None] = mapped_column(ForeignKey("ledger_accounts.id"))
    expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    lock_entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    resolve_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))


class OutboxRow(Base):
    """Transactional outbox row: written with the state change, published after commit."""

    __tablename__ = "domain_events"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rfq_id: Mapped[int | None] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)

