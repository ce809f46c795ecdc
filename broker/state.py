"""The broker's own view of an accepted RFQ, as a transition table (the seed's RfqStatus).

AcceptedBinding -> ReadyToSettle -> Reported -> Filled for buys; sells pass through
WithdrawingToken (shares pulled back from the bridge account) before settling. Reported: the
fill report is sent and the broker waits for the gateway's ExecutionAcknowledgement (BN); only
an accepting acknowledgement makes the RFQ Filled (settled), and an unacknowledged report is
sent again, same ExecID, after a reconnect or a restart.
Failed: the venue filled nothing; the gateway is told and voids the holds.
Abandoned: the gateway ended the RFQ (its settlement deadline passed) while the venue order
was working: the order is canceled. Unsettled: shares traded at the venue but the gateway
settled nothing (it refused the report, or had ended the RFQ): a reconciliation break for
operations, who hold the position."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from broker.refs import RfqRef
from core.state_machine import TransitionTable
from core.types import Side


class BrokerRfqState(StrEnum):
    ACCEPTED_BINDING = "AcceptedBinding"
    WITHDRAWING_TOKEN = "WithdrawingToken"
    READY_TO_SETTLE = "ReadyToSettle"
    REPORTED = "Reported"
    FILLED = "Filled"
    FAILED = "Failed"
    ABANDONED = "Abandoned"
    UNSETTLED = "Unsettled"


class BrokerTrigger(StrEnum):
    EXECUTED_BUY = "executed_buy"  # the venue order is done with shares bought
    EXECUTED_SELL = "executed_sell"  # the venue order is done with shares sold: withdraw the tokens first
    WITHDRAWAL_CONFIRMED = "withdrawal_confirmed"
    REPORTED = "reported"  # SettleQuote (the fill ExecutionReport) sent to the gateway
    ACKNOWLEDGED = "acknowledged"  # the gateway settled it (BN 1036=1)
    SETTLEMENT_REFUSED = "settlement_refused"  # the gateway settled nothing (BN 1036=2)
    GATEWAY_ENDED = "gateway_ended"  # the gateway ended the RFQ before any report (AI 297=7)
    NOTHING_FILLED = "nothing_filled"
    CANNOT_DELIVER = "cannot_deliver"  # traded, but the broker's ledger balance cannot settle it


BROKER_TRANSITIONS = TransitionTable[BrokerRfqState, BrokerTrigger](
    machine="a broker RFQ",
    transitions={
        (BrokerRfqState.ACCEPTED_BINDING, BrokerTrigger.EXECUTED_BUY): BrokerRfqState.READY_TO_SETTLE,
        (BrokerRfqState.ACCEPTED_BINDING, BrokerTrigger.EXECUTED_SELL): BrokerRfqState.WITHDRAWING_TOKEN,
        (BrokerRfqState.WITHDRAWING_TOKEN, BrokerTrigger.WITHDRAWAL_CONFIRMED): BrokerRfqState.READY_TO_SETTLE,
        (BrokerRfqState.READY_TO_SETTLE, BrokerTrigger.REPORTED): BrokerRfqState.REPORTED,
        (BrokerRfqState.REPORTED, BrokerTrigger.REPORTED): BrokerRfqState.REPORTED,  # sent again, same ExecID
        (BrokerRfqState.REPORTED, BrokerTrigger.ACKNOWLEDGED): BrokerRfqState.FILLED,
        (BrokerRfqState.REPORTED, BrokerTrigger.SETTLEMENT_REFUSED): BrokerRfqState.UNSETTLED,
        (BrokerRfqState.READY_TO_SETTLE, BrokerTrigger.CANNOT_DELIVER): BrokerRfqState.UNSETTLED,
        (BrokerRfqState.ACCEPTED_BINDING, BrokerTrigger.NOTHING_FILLED): BrokerRfqState.FAILED,
        (BrokerRfqState.ACCEPTED_BINDING, BrokerTrigger.GATEWAY_ENDED): BrokerRfqState.ABANDONED,
        (BrokerRfqState.ABANDONED, BrokerTrigger.NOTHING_FILLED): BrokerRfqState.FAILED,
        (BrokerRfqState.ABANDONED, BrokerTrigger.EXECUTED_BUY): BrokerRfqState.UNSETTLED,
        (BrokerRfqState.ABANDONED, BrokerTrigger.EXECUTED_SELL): BrokerRfqState.UNSETTLED,
    },
    terminal=frozenset({BrokerRfqState.FILLED, BrokerRfqState.FAILED, BrokerRfqState.UNSETTLED}),
)


@dataclass(frozen=True)
class BrokerRfq:
    rfq_ref: RfqRef  # the gateway's QuoteReqID: opaque, the key of the broker's records
    quote_resp_id: str  # the gateway's acceptance id, echoed on the report that settles the RFQ
    symbol: str
    side: Side  # the requester's side; the broker trades the same side at the venue
    quantity: Decimal
    quoted_price: Decimal
    margin_bps: Decimal  # the margin the quote was made with: it is put back on the venue price at settlement
    updated_at: datetime  # when the RFQ last changed (its row's time)
    state: BrokerRfqState = BrokerRfqState.ACCEPTED_BINDING
    filled_quantity: Decimal = Decimal(0)
    venue_average: Decimal | None = None
    settle_price: Decimal | None = None  # set with the fill; None until the venue order is done
    text: str | None = None
    settle_by: datetime | None = None  # the gateway's deadline for the report (AJ ValidUntilTime)
    # The NBBO the venue reported with its (last) execution: carried on the report to the gateway
    # (5002/5003), so execution quality is measured at the venue's execution, not at settlement.
    nbbo_bid: Decimal | None = None
    nbbo_offer: Decimal | None = None

    @property
    def is_terminal(self) -> bool:
        return BROKER_TRANSITIONS.is_terminal(self.state)

    def apply(self, trigger: BrokerTrigger, at: datetime) -> BrokerRfq:
        """The RFQ after `trigger`; InvalidTransition if the trigger is not allowed in its state."""
        return replace(self, state=BROKER_TRANSITIONS.next_state(self.state, trigger), updated_at=at)

    def executed(self, at: datetime, filled_quantity: Decimal, venue_average: Decimal,
                 settle_price: Decimal, nbbo: tuple[Decimal | None, Decimal | None] = (None, None)) -> BrokerRfq:
        """The venue order is done with shares traded: a buy is ready to settle, a sell withdraws tokens first."""
        trigger = BrokerTrigger.EXECUTED_BUY if self.side is Side.BUY else BrokerTrigger.EXECUTED_SELL
        return replace(self.apply(trigger, at), filled_quantity=filled_quantity, venue_average=venue_average,
                       settle_price=settle_price, nbbo_bid=nbbo[0], nbbo_offer=nbbo[1])

    def failed(self, at: datetime, text: str) -> BrokerRfq:
        return replace(self.apply(BrokerTrigger.NOTHING_FILLED, at), text=text)
