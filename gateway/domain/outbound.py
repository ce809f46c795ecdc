"""Messages the engine wants sent. The FIX boundary renders each one; the
domain never builds FIX itself."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.refusal import RejectReason
from core.types import SessionName, Side


@dataclass(frozen=True)
class ForwardQuoteRequest:
    to: SessionName
    quote_req_id: str
    symbol: str
    side: Side  # the requester's side
    quantity: Decimal
    expires_at: datetime


@dataclass(frozen=True)
class RejectQuoteRequest:
    to: SessionName
    client_req_id: str
    symbol: str
    reason: RejectReason
    text: str


@dataclass(frozen=True)
class PresentQuote:
    """The current best quote, shown to the requester under the gateway's QuoteID."""

    to: SessionName
    client_req_id: str
    quote_id: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    valid_until: datetime | None


class QuoteAck(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    REMOVED = "removed"  # the RFQ was won by another quote or ended
    CANCELED = "canceled"  # a solver's QuoteCancel took effect
    RFQ_CANCELED = "rfq_canceled"  # a requester's cancel of its whole RFQ took effect
    NOT_FOUND = "not_found"  # a QuoteCancel named no live quote


@dataclass(frozen=True)
class QuoteStatusReport:
    to: SessionName
    quote_req_id: str
    quote_id: str | None
    symbol: str
    status: QuoteAck
    text: str | None = None


@dataclass(frozen=True)
class NotifyQuoteAccepted:
    to: SessionName
    quote_resp_id: str
    solver_quote_id: str
    quote_req_id: str
    symbol: str
    side: Side  # the requester's side; the solver takes the other side
    quantity: Decimal
    price: Decimal
    settle_by: datetime | None = None  # ValidUntilTime (62): report the execution before this


class ExecutionAckStatus(StrEnum):
    ACCEPTED = "accepted"  # the fill is settled in the ledger (or was already, under this ExecID)
    REFUSED = "refused"  # nothing was settled: DKReason and Text say why


@dataclass(frozen=True)
class ExecutionAck:
    """ExecutionAcknowledgement (35=BN, back-ported from FIX 5.0 SP1): the answer to every
    ExecutionReport a solver sends. The solver treats its trade as settled only on ACCEPTED."""

    to: SessionName
    quote_resp_id: str
    exec_id: str
    status: ExecutionAckStatus
    symbol: str | None = None
    last_price: Decimal | None = None
    last_quantity: Decimal | None = None
    reason: RejectReason | None = None
    text: str | None = None


def fill_exec_id(rfq_id: int) -> str:
    """The ExecID of an RFQ's fill report to its requester (an RFQ settles in one fill)."""
    return f"{rfq_id}-fill"


class ReportKind(StrEnum):
    NEW = "new"  # acceptance acknowledged, funds locked (or an order received)
    FILL = "fill"
    REMAINDER_RELEASED = "remainder_released"  # after a partial fill: the rest will not fill
    REJECTED = "rejected"
    CANCELED = "canceled"  # an order canceled by its client before acceptance
    EXPIRED = "expired"  # an order no quote met within the window
    STATUS = "status"  # the answer to an OrderStatusRequest


@dataclass(frozen=True)
class RequesterReport:
    to: SessionName
    kind: ReportKind
    cl_ord_id: str  # the requester's QuoteRespID
    order_id: str
    exec_id: str
    symbol: str
    side: Side | None  # None only on a status report for an unknown order
    order_quantity: Decimal
    cum_quantity: Decimal
    average_price: Decimal | None
    last_price: Decimal | None = None
    last_quantity: Decimal | None = None
    quote_id: str | None = None
    text: str | None = None
    reject_reason: RejectReason | None = None  # OrdRejReason on a rejected order
    orig_cl_ord_id: str | None = None  # on a cancel confirmation: the order's ClOrdID
    status: str | None = None  # on a STATUS report: the RFQ state it describes
    fill_exec_id: str | None = None  # on a STATUS report of a filled RFQ: its fill report's ExecID (527)


@dataclass(frozen=True)
class OrderCancelReject:
    to: SessionName
    cl_ord_id: str
    orig_cl_ord_id: str
    order_id: str
    too_late: bool  # False: unknown order
    text: str
    status: str | None = None  # the order's RFQ state, when it is known


@dataclass(frozen=True)
class BusinessReject:
    to: SessionName
    ref_msg_type: str
    ref_id: str
    reason: RejectReason
    text: str


class CopiedParty(StrEnum):
    """Whose execution a drop copy is: rendered as PartyRole (452) in the copy's Parties group."""

    REQUESTER = "requester"  # a copy of an ExecutionReport sent to the requester (PartyRole 3, Client ID)
    SOLVER = "solver"  # a fill settled with the solver, on the solver's side (PartyRole 35, Liquidity provider)


@dataclass(frozen=True)
class DropCopyReport:
    """A copy, for a drop-copy session (`to`), of an ExecutionReport the gateway sent to `party`, or
    of a fill it settled with `party` (gateway/handlers/drop_copy.py derives them). Rendered as an
    ExecutionReport with CopyMsgIndicator (797=Y) and `party` in the Parties group."""

    to: SessionName
    party: SessionName
    party_role: CopiedParty
    kind: ReportKind
    cl_ord_id: str
    order_id: str
    exec_id: str
    symbol: str
    side: Side | None
    order_quantity: Decimal
    cum_quantity: Decimal
    average_price: Decimal | None
    last_price: Decimal | None = None
    last_quantity: Decimal | None = None
    quote_id: str | None = None
    text: str | None = None
    reject_reason: RejectReason | None = None
    orig_cl_ord_id: str | None = None
    status: str | None = None


Outbound = (
    ForwardQuoteRequest | RejectQuoteRequest | PresentQuote | QuoteStatusReport
    | NotifyQuoteAccepted | RequesterReport | OrderCancelReject | BusinessReject | ExecutionAck
    | DropCopyReport
)
