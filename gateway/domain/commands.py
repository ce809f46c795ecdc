"""Commands: what a counterparty asks the engine to do (imperative, immutable).

The FIX boundary builds exactly one of these per inbound application message.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.types import SessionName, Side
from gateway.domain.rfq import ExecutionMode, RfqOrigin


@dataclass(frozen=True)
class RequestQuote:
    """A QuoteRequest (35=R), or a NewOrderSingle (35=D) entered as an Immediate RFQ."""

    requester: SessionName
    client_req_id: str  # the QuoteReqID, or the order's ClOrdID
    symbol: str
    side: Side
    quantity: Decimal
    limit_price: Decimal | None
    mode: ExecutionMode = ExecutionMode.AWAIT_ACCEPT
    origin: RfqOrigin = RfqOrigin.QUOTE_REQUEST


@dataclass(frozen=True)
class SubmitQuote:
    solver: SessionName
    solver_quote_id: str
    quote_req_id: str  # the gateway's id the solver was sent
    symbol: str
    bid_price: Decimal | None
    offer_price: Decimal | None
    bid_size: Decimal | None
    offer_size: Decimal | None
    valid_until: datetime | None


class ResponseType(StrEnum):
    HIT_LIFT = "hit_lift"
    PASS = "pass"
    OTHER = "other"


@dataclass(frozen=True)
class AcceptQuote:
    requester: SessionName
    client_resp_id: str
    quote_id: str
    response_type: ResponseType


class ExecutionOutcome(StrEnum):
    FILLED = "filled"  # LastQty is the whole quantity the solver will ever deliver
    FAILED = "failed"  # the solver could not execute; nothing was filled


@dataclass(frozen=True)
class ReportExecution:
    solver: SessionName
    quote_resp_id: str  # the id the gateway gave the solver on acceptance
    exec_id: str
    outcome: ExecutionOutcome
    last_price: Decimal | None
    last_quantity: Decimal | None
    text: str | None
    # The NBBO at the solver's own execution (5002/5003), when it reports one (the broker reports the
    # venue's): kept with the fill for execution quality instead of the NBBO at settlement.
    nbbo_bid: Decimal | None = None
    nbbo_offer: Decimal | None = None

    def reported_nbbo(self) -> tuple[Decimal, Decimal] | None:
        """The reported NBBO if it is a usable one (both sides, positive, not crossed)."""
        bid, offer = self.nbbo_bid, self.nbbo_offer
        if bid is None or offer is None or not (0 < bid <= offer):
            return None
        return bid, offer


@dataclass(frozen=True)
class SessionStatusChanged:
    session: SessionName
    logged_on: bool
    # On logon: when the session's sequence numbers last started at 1 (its FIX store's creation
    # time, to the second) and the next MsgSeqNum QuickFIX expects from the counterparty.
    sequence_epoch: datetime | None = None
    next_expected_seq: int | None = None


@dataclass(frozen=True)
class Inbound:
    """One application message as the FIX boundary translated it, with its place in the session.

    The engine records `seq` as the session's last processed MsgSeqNum in the same transaction
    as the message's effects (exactly-once intake); `poss_dup` is PossDupFlag (43)."""

    command: object
    session: SessionName
    seq: int
    poss_dup: bool = False


@dataclass(frozen=True)
class CancelQuote:
    """A solver withdraws its live quote(s) on one RFQ (QuoteCancel 35=Z)."""

    solver: SessionName
    quote_req_id: str
    solver_quote_id: str | None  # None: every live quote of this solver on the RFQ


@dataclass(frozen=True)
class CancelRfq:
    """A requester withdraws its RFQ before acceptance (QuoteCancel 35=Z or OrderCancelRequest 35=F)."""

    requester: SessionName
    client_req_id: str  # the RFQ's QuoteReqID, or the order's original ClOrdID
    cancel_id: str  # the id of this cancel request (the OrderCancelRequest's ClOrdID)
    order_cancel: bool = False  # True for an OrderCancelRequest (answered with 35=9 when refused)


@dataclass(frozen=True)
class QueryOrder:
    """OrderStatusRequest (35=H)."""

    requester: SessionName
    cl_ord_id: str
    symbol: str
    side: Side


@dataclass(frozen=True)
class ApplyOperatorCommand:
    command_id: int
    command: str  # disable_solver | enable_solver
    comp_id: SessionName
