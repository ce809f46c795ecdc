"""What the broker connector hears and says, as plain immutable values."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.types import Side


class ExecType(StrEnum):
    """FIX ExecType (150) values the venue sends us; members equal their code, so decoded text compares."""

    NEW = "0"
    CANCELED = "4"
    REJECTED = "8"
    TRADE = "F"
    ORDER_STATUS = "I"  # an answer to a status query or a mass status request, not a change


class OrdStatus(StrEnum):
    """FIX OrdStatus (39) values the venue sends us."""

    NEW = "0"
    PARTIALLY_FILLED = "1"
    FILLED = "2"
    CANCELED = "4"
    REJECTED = "8"
    EXPIRED = "C"  # a Day order the venue ended at the close


@dataclass(frozen=True)
class RfqOffered:
    """The gateway asks for a quote."""

    quote_req_id: str
    symbol: str
    side: Side  # the requester's side
    quantity: Decimal
    expires_at: datetime | None


@dataclass(frozen=True)
class QuoteWon:
    """The gateway tells us a requester accepted our quote."""

    quote_resp_id: str
    quote_id: str
    symbol: str
    side: Side
    quantity: Decimal
    price: Decimal
    settle_by: datetime | None = None  # ValidUntilTime (62): the gateway ends the RFQ if not reported by then


@dataclass(frozen=True)
class SettlementAcknowledged:
    """ExecutionAcknowledgement (BN) from the gateway: our report settled (accepted) or settled nothing."""

    exec_id: str
    accepted: bool
    text: str | None


@dataclass(frozen=True)
class QuoteStatusNotice:
    """A QuoteStatusReport (AI) from the gateway about one of our quotes."""

    quote_req_id: str
    quote_id: str | None
    status: str  # QuoteStatus (297) code
    text: str | None


@dataclass(frozen=True)
class GatewaySessionUp:
    """The gateway session logged on: reports it has not acknowledged are sent again."""


@dataclass(frozen=True)
class VenueExecution:
    """An ExecutionReport from the venue."""

    cl_ord_id: str
    exec_id: str
    exec_type: str  # FIX ExecType code (see ExecType)
    ord_status: str  # FIX OrdStatus code (see OrdStatus)
    last_price: Decimal | None
    last_quantity: Decimal | None
    cum_quantity: Decimal
    average_price: Decimal | None
    nbbo_bid: Decimal | None
    nbbo_offer: Decimal | None
    text: str | None
    order_id: str | None = None  # the venue's OrderID
    transact_time: datetime | None = None
    last_report: bool = False  # the last answer to an OrderMassStatusRequest (912=Y)
    reject_reason: str | None = None  # OrdRejReason (103) on a rejected order
    msg_seq_num: int | None = None  # the report's MsgSeqNum on the venue session (recovery after a crash)


@dataclass(frozen=True)
class VenueSessionDone:
    """The venue answered the mass status request with no orders of ours."""


# What the connector's worker runs: the application translates each inbound message into one of these.
ConnectorCommand = (RfqOffered | QuoteWon | VenueExecution | VenueSessionDone | SettlementAcknowledged
                    | QuoteStatusNotice | GatewaySessionUp)


@dataclass(frozen=True)
class StatusQuery:
    """OrderStatusRequest (35=H) for one order."""

    cl_ord_id: str
    symbol: str
    side: Side


@dataclass(frozen=True)
class CancelOrder:
    """OrderCancelRequest (35=F)."""

    cancel_id: str
    orig_cl_ord_id: str
    symbol: str
    side: Side
    quantity: Decimal
    sent_at: datetime


@dataclass(frozen=True)
class MassStatusQuery:
    """OrderMassStatusRequest (35=AF): every order of this session, after a restart."""

    request_id: str


@dataclass(frozen=True)
class QuoteToSend:
    quote_req_id: str
    quote_id: str
    symbol: str
    bid: Decimal
    ask: Decimal
    size: Decimal
    valid_until: datetime


@dataclass(frozen=True)
class OrderToSend:
    cl_ord_id: str
    symbol: str
    side: Side  # the broker's side at the venue
    quantity: Decimal
    limit_price: Decimal
    sent_at: datetime
    time_in_force: str = "day"  # rests at the venue until filled, cancelled by the broker's timeout, or day end


@dataclass(frozen=True)
class ExecutionToReport:
    quote_resp_id: str
    exec_id: str
    symbol: str
    side: Side
    filled: bool
    last_price: Decimal | None
    last_quantity: Decimal | None
    text: str | None
    nbbo_bid: Decimal | None = None  # the NBBO at the venue's execution (5002/5003)
    nbbo_offer: Decimal | None = None
