"""The connector's view of one venue order, as a transition table."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from broker.messages import OrderToSend, VenueExecution


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


_LIVE = (OrderState.PENDING_NEW, OrderState.NEW, OrderState.PARTIALLY_FILLED)
ORDER_TRANSITIONS: dict[tuple[OrderState, OrderTrigger], OrderState] = {
    (OrderState.PENDING_NEW, OrderTrigger.ACKNOWLEDGED): OrderState.NEW,
    (OrderState.PENDING_NEW, OrderTrigger.REJECTED): OrderState.REJECTED,
    **{(state, OrderTrigger.PARTIAL_FILL): OrderState.PARTIALLY_FILLED for state in _LIVE},
    **{(state, OrderTrigger.FULL_FILL): OrderState.FILLED for state in _LIVE},
    **{(state, OrderTrigger.CANCELED): OrderState.CANCELED for state in _LIVE},
    (OrderState.NEW, OrderTrigger.REJECTED): OrderState.REJECTED,
}
TERMINAL_ORDER_STATES = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})


class UnexpectedReport(Exception):
    pass


def trigger_for(report: VenueExecution) -> OrderTrigger | None:
    """Which transition a venue report means; None for reports that change nothing (status)."""
    if report.exec_type == "0":
        return OrderTrigger.ACKNOWLEDGED
    if report.exec_type == "F":
        return OrderTrigger.FULL_FILL if report.ord_status == "2" else OrderTrigger.PARTIAL_FILL
    if report.exec_type == "4":
        return OrderTrigger.CANCELED
    if report.exec_type == "8":
        return OrderTrigger.REJECTED
    return None


@dataclass(frozen=True)
class VenueOrder:
    order: OrderToSend
    quote_resp_id: str
    quoted_price: Decimal
    rfq_id: int = 0
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
        return self.state in TERMINAL_ORDER_STATES

    @property
    def average_price(self) -> Decimal | None:
        return None if self.cum_quantity == 0 else self.notional / self.cum_quantity

    def apply(self, report: VenueExecution) -> "VenueOrder":
        if report.exec_id in self.seen_exec_ids:
            return self  # a resent report changes nothing
        trigger = trigger_for(report)
        if trigger is None:
            return self
        state = ORDER_TRANSITIONS.get((self.state, trigger))
        if state is None:
            raise UnexpectedReport(f"{trigger.value} for an order in state {self.state.value}")
        changes: dict = {"state": state, "seen_exec_ids": self.seen_exec_ids | {report.exec_id},
                         "last_text": report.text or self.last_text,
                         "venue_order_id": report.order_id or self.venue_order_id,
                         "reject_reason": report.reject_reason or self.reject_reason}
        if trigger in (OrderTrigger.PARTIAL_FILL, OrderTrigger.FULL_FILL):
            assert report.last_price is not None and report.last_quantity is not None
            changes["cum_quantity"] = self.cum_quantity + report.last_quantity
            changes["notional"] = self.notional + report.last_price * report.last_quantity
            changes["nbbo_bid"], changes["nbbo_offer"] = report.nbbo_bid, report.nbbo_offer
            assert changes["cum_quantity"] <= self.order.quantity, "the venue never overfills"
        return replace(self, **changes)
