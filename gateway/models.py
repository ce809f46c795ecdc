"""The gateway's tables: RFQs, quotes and requester-side fills (rows; the domain types are in
gateway/domain)."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import NEVER_REUSE_IDS, Base, one_of
from db.types import DecimalText, UtcDateTime

SIDES = ("buy", "sell")


class RfqRow(Base):
    __tablename__ = "rfqs"
    __table_args__ = (
        UniqueConstraint("requester_session", "client_req_id"),
        CheckConstraint(one_of("side", SIDES), name="side"),
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


class QuoteRow(Base):
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
    # Arrival order across all RFQs (the tie-break of the best-quote rule); after a restart the
    # next quote continues from the highest, so a quote id ("q{rfq}-{sequence}") never repeats.
    sequence: Mapped[int] = mapped_column(Integer, unique=True)


class FillRow(Base):
    __tablename__ = "fills"
    __table_args__ = (UniqueConstraint("rfq_id", "exec_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rfq_id: Mapped[int] = mapped_column(ForeignKey("rfqs.id"))
    quote_id: Mapped[str] = mapped_column(ForeignKey("quotes.id"), index=True)
    exec_id: Mapped[str] = mapped_column(String(64))
    last_price: Mapped[Decimal] = mapped_column(DecimalText())
    last_quantity: Mapped[Decimal] = mapped_column(DecimalText())
    nbbo_bid: Mapped[Decimal | None] = mapped_column(DecimalText())
    nbbo_offer: Mapped[Decimal | None] = mapped_column(DecimalText())
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class SessionProgressRow(Base):
    """Exactly-once intake: the last inbound MsgSeqNum of each FIX session the engine has committed.

    Written in the same transaction as the state change the message caused; at start each
    session's next expected sequence number is set from it, so a message QuickFIX counted but the
    engine never committed is resent by the counterparty."""

    __tablename__ = "session_progress"

    comp_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    sequence_epoch: Mapped[datetime] = mapped_column(UtcDateTime())  # when its MsgSeqNums last started at 1
    last_processed_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FixOutboxRow(Base):
    """Every message the engine decided to send, written in the transaction of the decision.

    After the commit the engine hands each to QuickFIX, whose store keeps it for resend; the next
    transaction records how far that went (FixOutboxStateRow). A crash between a commit and the
    hand-over leaves rows beyond that mark: they are sent at the next start, PossResend=Y."""

    __tablename__ = "fix_outbox"
    __table_args__ = (NEVER_REUSE_IDS,)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    session: Mapped[str] = mapped_column(String(64))
    message_type: Mapped[str] = mapped_column(String(32))  # the engine's outbound class
    payload: Mapped[str] = mapped_column(Text)  # its fields as JSON (gateway/outbox_codec.py)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())


class FixOutboxStateRow(Base):
    """One row: every fix_outbox message up to `delivered_through` is in QuickFIX's store."""

    __tablename__ = "fix_outbox_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    delivered_through: Mapped[int] = mapped_column(Integer)
