"""The broker's own view of an accepted RFQ, as a transition table (the seed's RfqStatus).

AcceptedBinding -> ReadyToSettle -> Filled for buys; sells pass through
WithdrawingToken (shares pulled back from the bridge account) before settling.
Failed: the venue filled nothing; the gateway is told and voids the holds."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.types import Side


class BrokerRfqState(StrEnum):
    ACCEPTED_BINDING = "AcceptedBinding"
    WITHDRAWING_TOKEN = "WithdrawingToken"
    READY_TO_SETTLE = "ReadyToSettle"
    FILLED = "Filled"
    FAILED = "Failed"


class BrokerTrigger(StrEnum):
    EXECUTED_BUY = "executed_buy"  # the venue order is done with shares bought
    EXECUTED_SELL = "executed_sell"  # the venue order is done with shares sold: withdraw the tokens first
    WITHDRAWAL_CONFIRMED = "withdrawal_confirmed"
    REPORTED = "reported"  # SettleQuote (the fill ExecutionReport) sent to the gateway
    NOTHING_FILLED = "nothing_filled"


BROKER_TRANSITIONS: dict[tuple[BrokerRfqState, BrokerTrigger], BrokerRfqState] = {
    (BrokerRfqState.ACCEPTED_BINDING, BrokerTrigger.EXECUTED_BUY): BrokerRfqState.READY_TO_SETTLE,
    (BrokerRfqState.ACCEPTED_BINDING, BrokerTrigger.EXECUTED_SELL): BrokerRfqState.WITHDRAWING_TOKEN,
    (BrokerRfqState.WITHDRAWING_TOKEN, BrokerTrigger.WITHDRAWAL_CONFIRMED): BrokerRfqState.READY_TO_SETTLE,
    (BrokerRfqState.READY_TO_SETTLE, BrokerTrigger.REPORTED): BrokerRfqState.FILLED,
    (BrokerRfqState.ACCEPTED_BINDING, BrokerTrigger.NOTHING_FILLED): BrokerRfqState.FAILED,
}
TERMINAL_BROKER_STATES = frozenset({BrokerRfqState.FILLED, BrokerRfqState.FAILED})


class BrokerTransitionError(Exception):
    pass


@dataclass(frozen=True)
class BrokerRfq:
    rfq_id: int
    quote_resp_id: str
    symbol: str
    side: Side  # the requester's side; the broker trades the same side at the venue
    quantity: Decimal
    quoted_price: Decimal
    margin_bps: Decimal  # the margin the quote was made with: it is put back on the venue price at settlement
    state: BrokerRfqState = BrokerRfqState.ACCEPTED_BINDING
    filled_quantity: Decimal = Decimal(0)
    venue_average: Decimal | None = None
    settle_price: Decimal | None = None
    text: str | None = None
    updated_at: datetime | None = None

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_BROKER_STATES

    def apply(self, trigger: BrokerTrigger, at: datetime, **changes) -> "BrokerRfq":
        target = BROKER_TRANSITIONS.get((self.state, trigger))
        if target is None:
            raise BrokerTransitionError(f"cannot {trigger.value} an RFQ in state {self.state.value}")
        return replace(self, state=target, updated_at=at, **changes)
