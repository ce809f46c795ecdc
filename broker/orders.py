"""The connector's view of one order it placed at the venue, as a transition table."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from broker.messages import ExecType, OrderToSend, OrdStatus, VenueExecution
from broker.refs import RfqRef
from core.state_machine import TransitionTable, from_each


class OrderState(StrEnum):
    PENDING_NEW = "PendingNew"
    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELED = "Canceled"
    REJECTED = "Rejected"


class OrderTrigger(StrEnum):
    ACKNOWLEDGED = "acknowledged"
    PARTIAL_FILL = "partial_fill"
    FULL_FILL = "full_fill"
    CANCELED = "canceled"
    REJECTED = "rejected"


LIVE_ORDER_STATES = (OrderState.PENDING_NEW, OrderState.NEW, OrderState.PARTIALLY_FILLED)
ORDER_TRANSITIONS = TransitionTable[OrderState, OrderTrigger](
    machine="a venue order",
    transitions={
        (OrderState.PENDING_NEW, OrderTrigger.ACKNOWLEDGED): OrderState.NEW,
        **from_each((OrderState.PENDING_NEW, OrderState.NEW), OrderTrigger.REJECTED, OrderState.REJECTED),
        **from_each(LIVE_ORDER_STATES, OrderTrigger.PARTIAL_FILL, OrderState.PARTIALLY_FILLED),
        **from_each(LIVE_ORDER_STATES, OrderTrigger.FULL_FILL, OrderState.FILLED),
        **from_each(LIVE_ORDER_STATES, OrderTrigger.CANCELED, OrderState.CANCELED),
    },
    terminal=frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED}),
)


class InvalidVenueReport(Exception):
    """A venue report whose content cannot be true of our order (a fill without price or quantity, an overfill)."""


@dataclass(frozen=True)
class ExecutedFill:
    """One execution at the venue, as recorded in venue_fills (the venue's ExecID is the trade id)."""

    exec_id: str
    venue_order_id: str | None
    quantity: Decimal
    price: Decimal
    nbbo_bid: Decimal | None
    nbbo_offer: Decimal | None
    executed_at: datetime
    venue_seq: int | None = None  # the trade report's MsgSeqNum: committed with the fill (broker/recovery.py)


def trigger_for(report: VenueExecution) -> OrderTrigger | None:
    """Which transition a venue report means; None for reports that change nothing (status)."""
    if report.exec_type == ExecType.NEW:
        return OrderTrigger.ACKNOWLEDGED
    if report.exec_type == ExecType.TRADE:
        return OrderTrigger.FULL_FILL if report.ord_status == OrdStatus.FILLED else OrderTrigger.PARTIAL_FILL
    if report.exec_type == ExecType.CANCELED:
        return OrderTrigger.CANCELED
    if report.exec_type == ExecType.REJECTED:
        return OrderTrigger.REJECTED
    return None


@dataclass(frozen=True)
class PlacedOrder:
    order: OrderToSend
    quote_resp_id: str
    quoted_price: Decimal
    rfq_ref: RfqRef
    attempt: int = 1
    state: OrderState = OrderState.PENDING_NEW
    venue_order_id: str | None = None
    last_news_at: datetime | None = None  # the last report from the venue (or the send)
    last_poll_at: datetime | None = None
    cancel_requested_at: datetime | None = None
    cum_quantity: Decimal = Decimal(0)
    notional: Decimal = Decimal(0)  # sum of last_px * last_qty, exact
    nbbo_bid: Decimal | None = None
    nbbo_offer: Decimal | None = None
    last_text: str | None = None
    reject_reason: str | None = None  # OrdRejReason of a venue reject
    seen_exec_ids: frozenset[str] = frozenset()

    @property
    def is_done(self) -> bool:
        return ORDER_TRANSITIONS.is_terminal(self.state)

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_ORDER_STATES

    @property
    def average_price(self) -> Decimal | None:
        return None if self.cum_quantity == 0 else self.notional / self.cum_quantity

    def apply(self, report: VenueExecution) -> PlacedOrder:
        """The order after `report`. InvalidTransition for a report its state does not allow,
        InvalidVenueReport for one whose content is impossible; a resent report changes nothing."""
        if report.exec_id in self.seen_exec_ids:
            return self
        trigger = trigger_for(report)
        if trigger is None:
            return self
        moved = replace(self, state=ORDER_TRANSITIONS.next_state(self.state, trigger),
                        seen_exec_ids=self.seen_exec_ids | {report.exec_id},
                        last_text=report.text or self.last_text,
                        venue_order_id=report.order_id or self.venue_order_id,
                        reject_reason=report.reject_reason or self.reject_reason)
        if trigger not in (OrderTrigger.PARTIAL_FILL, OrderTrigger.FULL_FILL):
            return moved
        price, quantity = _fill_of(report)
        cum_quantity = self.cum_quantity + quantity
        if cum_quantity > self.order.quantity:
            raise InvalidVenueReport(f"fill {report.exec_id} of {quantity} makes {cum_quantity}, "
                                     f"more than the {self.order.quantity} ordered")
        return replace(moved, cum_quantity=cum_quantity, notional=self.notional + price * quantity,
                       nbbo_bid=report.nbbo_bid, nbbo_offer=report.nbbo_offer)


def _fill_of(report: VenueExecution) -> tuple[Decimal, Decimal]:
    if report.last_price is None or report.last_quantity is None:
        raise InvalidVenueReport(f"fill {report.exec_id} has no LastPx or no LastQty")
    if report.last_price <= 0 or report.last_quantity <= 0:
        raise InvalidVenueReport(f"fill {report.exec_id} has LastPx {report.last_price} and LastQty "
                                 f"{report.last_quantity}: both must be positive")
    return report.last_price, report.last_quantity
