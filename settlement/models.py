"""SQLAlchemy tables of the settlement store: double-entry ledger, holds, RFQ records and the outbox.

migrations/versions must create exactly this schema; tests compare the two with
alembic.autogenerate.compare_metadata on SQLite and PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, MetaData, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from settlement.types import DecimalText, UtcDateTime

# Deterministic constraint names: SQLite batch migrations can only drop or alter named constraints.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ENTRY_KINDS = ("deposit", "lock", "post", "void", "transfer")
BUCKETS = ("available", "locked")
HOLD_STATUSES = ("pending", "posted", "voided")
SIDES = ("buy", "sell")

# Append-only tables never reuse an id on SQLite (AUTOINCREMENT), so audit references stay unique.
_NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def _one_of(column: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class LedgerAccount(Base):
    __tablename__ = "ledger_accounts"
    __table_args__ = (UniqueConstraint("owner", "asset"), _NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    owner: Mapped[str] = mapped_column(String(64))
    asset: Mapped[str] = mapped_column(String(16))
    available: Mapped[Decimal] = mapped_column(DecimalText())
    locked: Mapped[Decimal] = mapped_column(DecimalText())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    __table_args__ = (
        CheckConstraint(_one_of("kind", ENTRY_KINDS), name="kind"),
        _NEVER_REUSE_IDS,
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
        CheckConstraint(_one_of("bucket", BUCKETS), name="bucket"),
        _NEVER_REUSE_IDS,
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
        CheckConstraint(_one_of("status", HOLD_STATUSES), name="status"),
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


class Rfq(Base):
    __tablename__ = "rfqs"
    __table_args__ = (
        UniqueConstraint("requester_session", "client_req_id"),
        CheckConstraint(_one_of("side", SIDES), name="side"),
    )

    # The engine assigns ids (they appear in FIX messages before anything is persisted).
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    requester_session: Mapped[str] = mapped_column(String(64))
    requester_account: Mapped[str] = mapped_column(String(64))
    client_req_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
    limit_price: Mapped[Decimal | None] = mapped_column(DecimalText())
    state: Mapped[str] = mapped_column(String(32))
    mode: Mapped[str] = mapped_column(String(16))
    origin: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    submission_deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    acceptance_deadline: Mapped[datetime] = mapped_column(UtcDateTime())
    accepted_quote_id: Mapped[str | None] = mapped_column(String(64))
    client_resp_id: Mapped[str | None] = mapped_column(String(64))
    filled_quantity: Mapped[Decimal] = mapped_column(DecimalText(), default=Decimal(0))
    average_price: Mapped[Decimal | None] = mapped_column(DecimalText())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class Quote(Base):
    __tablename__ = "quotes"
    __table_args__ = (UniqueConstraint("rfq_id", "solver_session", "solver_quote_id"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    rfq_id: Mapped[int] = mapped_column(ForeignKey("rfqs.id"))
    solver_session: Mapped[str] = mapped_column(String(64))
    solver_account: Mapped[str] = mapped_column(String(64))
    solver_quote_id: Mapped[str] = mapped_column(String(64))
    bid_price: Mapped[Decimal | None] = mapped_column(DecimalText())
    offer_price: Mapped[Decimal | None] = mapped_column(DecimalText())
    bid_size: Mapped[Decimal | None] = mapped_column(DecimalText())
    offer_size: Mapped[Decimal | None] = mapped_column(DecimalText())
    valid_until: Mapped[datetime | None] = mapped_column(UtcDateTime())
    received_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(16))


class Fill(Base):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("rfq_id", "exec_id"), _NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rfq_id: Mapped[int] = mapped_column(ForeignKey("rfqs.id"))
    quote_id: Mapped[str] = mapped_column(ForeignKey("quotes.id"), index=True)
    exec_id: Mapped[str] = mapped_column(String(64))
    last_price: Mapped[Decimal] = mapped_column(DecimalText())
    last_quantity: Mapped[Decimal] = mapped_column(DecimalText())
    nbbo_bid: Mapped[Decimal | None] = mapped_column(DecimalText())
    nbbo_offer: Mapped[Decimal | None] = mapped_column(DecimalText())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class DomainEvent(Base):
    """Transactional outbox row: written with the state change, published after commit."""

    __tablename__ = "domain_events"
    __table_args__ = (_NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rfq_id: Mapped[int | None] = mapped_column(Integer)
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UtcDateTime())
    published_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
