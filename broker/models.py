"""The broker connector's own records: the orders it sent to the venue and their fills.

They let the connector rebuild its state after a restart, and they are "our side"
of the T+1 reconciliation against the venue's statement."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base
from db.types import DecimalText, UtcDateTime


class VenueOrderRow(Base):
    __tablename__ = "venue_orders"

    cl_ord_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # {rfq_id}-{attempt:03d}
    rfq_id: Mapped[str] = mapped_column(String(64), index=True)  # the gateway's QuoteReqID (broker.refs.RfqRef)
    attempt: Mapped[int] = mapped_column(Integer)
    quote_resp_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))  # the broker's side at the venue: buy | sell
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
    limit_price: Mapped[Decimal] = mapped_column(DecimalText())
    quoted_price: Mapped[Decimal] = mapped_column(DecimalText())
    state: Mapped[str] = mapped_column(String(32))
    cum_quantity: Mapped[Decimal] = mapped_column(DecimalText())
    notional: Mapped[Decimal] = mapped_column(DecimalText())  # sum of price x quantity over fills, exact
    venue_order_id: Mapped[str | None] = mapped_column(String(64))
    reported: Mapped[bool] = mapped_column(default=False)  # the outcome was reported to the gateway
    text: Mapped[str | None] = mapped_column(String(256))
    sent_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class VenueFillRow(Base):
    __tablename__ = "venue_fills"

    exec_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the venue's ExecID: the trade id
    cl_ord_id: Mapped[str] = mapped_column(ForeignKey("venue_orders.cl_ord_id"), index=True)
    venue_order_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))  # the broker's side at the venue
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
    price: Mapped[Decimal] = mapped_column(DecimalText())
    nbbo_bid: Mapped[Decimal | None] = mapped_column(DecimalText())
    nbbo_offer: Mapped[Decimal | None] = mapped_column(DecimalText())
    executed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    trade_date: Mapped[date] = mapped_column(Date, index=True)  # New York trading date of the execution


class BrokerVenueProgressRow(Base):
    """The venue session's MsgSeqNum of the last trade report committed (with its fill). A trade
    report QuickFIX counted but the connector never committed (a kill in between) is asked for
    again at the next start: the session resumes right after this number (broker/recovery.py)."""

    __tablename__ = "broker_venue_progress"

    session: Mapped[str] = mapped_column(String(64), primary_key=True)  # the venue's CompID
    last_trade_seq: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class BrokerRfqRow(Base):
    """An RFQ the broker won, from acceptance to the report of its outcome."""

    __tablename__ = "broker_rfqs"

    rfq_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the gateway's QuoteReqID, opaque
    quote_resp_id: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))  # the requester's side
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
    quoted_price: Mapped[Decimal] = mapped_column(DecimalText())
    margin_bps: Mapped[Decimal] = mapped_column(DecimalText())
    state: Mapped[str] = mapped_column(String(32), index=True)
    filled_quantity: Mapped[Decimal] = mapped_column(DecimalText())
    venue_average: Mapped[Decimal | None] = mapped_column(DecimalText())
    settle_price: Mapped[Decimal | None] = mapped_column(DecimalText())
    text: Mapped[str | None] = mapped_column(String(256))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    settle_by: Mapped[datetime | None] = mapped_column(UtcDateTime())  # the gateway's report deadline
    nbbo_bid: Mapped[Decimal | None] = mapped_column(DecimalText())  # at the venue's execution
    nbbo_offer: Mapped[Decimal | None] = mapped_column(DecimalText())


class BrokerParameterRow(Base):
    """Quoting parameters per market session, changed at run time (`rfq-gateway broker set-margin`)."""

    __tablename__ = "broker_parameters"

    market_session: Mapped[str] = mapped_column(String(16), primary_key=True)
    margin_bps: Mapped[Decimal] = mapped_column(DecimalText())
    aggression_bps: Mapped[Decimal] = mapped_column(DecimalText())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_by: Mapped[str] = mapped_column(String(64))


class BrokerQuoteRow(Base):
    """A quote the broker sent, kept until it can no longer be accepted, so an acceptance that
    arrives after a connector restart can still be executed at the quoted terms."""

    __tablename__ = "broker_quotes"

    quote_id: Mapped[str] = mapped_column(String(64), primary_key=True)  # our QuoteID (117)
    quote_req_id: Mapped[str] = mapped_column(String(64))  # the gateway's QuoteReqID, opaque
    symbol: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(8))  # the requester's side
    quantity: Mapped[Decimal] = mapped_column(DecimalText())
    bid: Mapped[Decimal] = mapped_column(DecimalText())
    ask: Mapped[Decimal] = mapped_column(DecimalText())
    margin_bps: Mapped[Decimal] = mapped_column(DecimalText())
    valid_until: Mapped[datetime] = mapped_column(UtcDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
