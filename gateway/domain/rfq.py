"""The RFQ aggregate and its one state machine, written as a transition table."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.state_machine import TransitionTable
from core.types import QuoteId, RfqId, SessionName, Side


class RfqState(StrEnum):
    RECEIVED = "Received"
    QUOTING = "Quoting"
    ACCEPTED_BINDING = "AcceptedBinding"
    READY_TO_SETTLE = "ReadyToSettle"
    FILLED = "Filled"  # the whole quantity
    PARTIALLY_FILLED = "PartiallyFilled"  # settled less than the quantity; the rest was released (done)
    EXPIRED = "Expired"
    REJECTED = "Rejected"
    CANCELED = "Canceled"


class ExecutionMode(StrEnum):
    AWAIT_ACCEPT = "AwaitAccept"  # the requester sees each new best quote and accepts one
    IMMEDIATE = "Immediate"  # the first quote within the requester's limit is accepted automatically


class RfqOrigin(StrEnum):
    QUOTE_REQUEST = "QuoteRequest"  # 35=R: the requester hears Quotes and QuoteStatusReports
    ORDER = "Order"  # 35=D: the client hears ExecutionReports only


class Trigger(StrEnum):
    OPEN = "open"  # validated and sent to solvers
    REFUSE = "refuse"  # failed validation
    QUOTE = "quote"
    ACCEPT = "accept"
    FILL = "fill"  # a fill report passed its checks
    SETTLE = "settle"  # the ledger posted the holds for the whole quantity
    SETTLE_PARTIAL = "settle_partial"  # the ledger posted less than the quantity and released the rest
    EXECUTION_FAILED = "execution_failed"  # the solver could not execute; holds voided
    EXPIRE = "expire"
    CANCEL = "cancel"  # the requester withdrew the RFQ (or the order) before acceptance


TRANSITIONS: dict[tuple[RfqState, Trigger], RfqState] = {
    (RfqState.RECEIVED, Trigger.OPEN): RfqState.QUOTING,
    (RfqState.RECEIVED, Trigger.REFUSE): RfqState.REJECTED,
    (RfqState.QUOTING, Trigger.QUOTE): RfqState.QUOTING,
    (RfqState.QUOTING, Trigger.ACCEPT): RfqState.ACCEPTED_BINDING,
    (RfqState.QUOTING, Trigger.EXPIRE): RfqState.EXPIRED,
    (RfqState.QUOTING, Trigger.CANCEL): RfqState.CANCELED,
    (RfqState.ACCEPTED_BINDING, Trigger.FILL): RfqState.READY_TO_SETTLE,
    (RfqState.ACCEPTED_BINDING, Trigger.EXECUTION_FAILED): RfqState.REJECTED,
    (RfqState.READY_TO_SETTLE, Trigger.SETTLE): RfqState.FILLED,
    (RfqState.READY_TO_SETTLE, Trigger.SETTLE_PARTIAL): RfqState.PARTIALLY_FILLED,
}

TERMINAL_STATES = frozenset({RfqState.FILLED, RfqState.PARTIALLY_FILLED, RfqState.EXPIRED, RfqState.REJECTED,
                             RfqState.CANCELED})


RFQ_MACHINE = TransitionTable("an RFQ", TRANSITIONS, TERMINAL_STATES)


def next_state(state: RfqState, trigger: Trigger) -> RfqState:
    """The state after `trigger`; core.state_machine.InvalidTransition when the table has no such move."""
    return RFQ_MACHINE.next_state(state, trigger)


@dataclass(frozen=True)
class Rfq:
    rfq_id: RfqId
    requester: SessionName
    requester_account: str
    client_req_id: str
    symbol: str
    side: Side
    quantity: Decimal
    limit_price: Decimal | None
    created_at: datetime
    submission_deadline: datetime
    acceptance_deadline: datetime
    state: RfqState = RfqState.RECEIVED
    mode: ExecutionMode = ExecutionMode.AWAIT_ACCEPT
    origin: RfqOrigin = RfqOrigin.QUOTE_REQUEST
    accepted_quote_id: QuoteId | None = None
    client_resp_id: str | None = None  # the requester's QuoteRespID, echoed as ClOrdID on its reports
    filled_quantity: Decimal = Decimal(0)
    average_price: Decimal | None = None
    updated_at: datetime | None = None

    def __post_init__(self) -> None:
        assert self.quantity > 0, "an RFQ quantity is positive"
        assert self.mode is ExecutionMode.AWAIT_ACCEPT or self.limit_price is not None, "Immediate needs a limit"
        assert self.created_at <= self.submission_deadline <= self.acceptance_deadline
        assert Decimal(0) <= self.filled_quantity <= self.quantity

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_STATES

    def apply(self, trigger: Trigger, at: datetime, **changes: Any) -> "Rfq":
        """The only way an RFQ changes state: through the table, returning a new value."""
        return replace(self, state=next_state(self.state, trigger), updated_at=at, **changes)

    def within_limit(self, price: Decimal) -> bool:
        """Is a price acceptable to the requester's optional limit?"""
        if self.limit_price is None:
            return True
        return price <= self.limit_price if self.side is Side.BUY else price >= self.limit_price

    @property
    def quoting_deadline(self) -> datetime:
        """When the RFQ stops being acceptable: Immediate RFQs end with the submission window."""
        if self.mode is ExecutionMode.IMMEDIATE:
            return self.submission_deadline
        return self.acceptance_deadline

    @property
    def is_order(self) -> bool:
        return self.origin is RfqOrigin.ORDER

    def solver_query_id(self) -> str:
        """The QuoteReqID solvers see: the gateway's own, never the requester's."""
        return f"rfq-{self.rfq_id}"
