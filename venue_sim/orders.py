"""A venue order: its lifecycle as a transition table, and its fill bookkeeping (pure domain)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import Enum

AVG_PX_QUANTUM = Decimal("0.000001")


class OrderState(Enum):
    PENDING_NEW = "PendingNew"
    NEW = "New"
    PARTIALLY_FILLED = "PartiallyFilled"
    FILLED = "Filled"
    CANCELED = "Canceled"
    REJECTED = "Rejected"


class Trigger(Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    PARTIAL_FILL = "partial_fill"
    FILL = "fill"
    CANCEL = "cancel"


TRANSITIONS: dict[tuple[OrderState, Trigger], OrderState] = {
    (OrderState.PENDING_NEW, Trigger.ACCEPT): OrderState.NEW,
    (OrderState.PENDING_NEW, Trigger.REJECT): OrderState.REJECTED,
    (OrderState.NEW, Trigger.PARTIAL_FILL): OrderState.PARTIALLY_FILLED,
    (OrderState.NEW, Trigger.FILL): OrderState.FILLED,
    (OrderState.NEW, Trigger.CANCEL): OrderState.CANCELED,
    (OrderState.PARTIALLY_FILLED, Trigger.PARTIAL_FILL): OrderState.PARTIALLY_FILLED,
    (OrderState.PARTIALLY_FILLED, Trigger.FILL): OrderState.FILLED,
    (OrderState.PARTIALLY_FILLED, Trigger.CANCEL): OrderState.CANCELED,
}

DONE_STATES = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})


class InvalidTransition(Exception):
    def __init__(self, state: OrderState, trigger: Trigger) -> None:
        super().__init__(f"no transition from {state.value} on {trigger.value}")
        self.state = state
        self.trigger = trigger


def apply(state: OrderState, trigger: Trigger) -> OrderState:
    try:
        return TRANSITIONS[(state, trigger)]
    except KeyError:
        raise InvalidTransition(state, trigger) from None


def average_price(notional: Decimal, quantity: Decimal) -> Decimal:
    """sum(px*qty)/qty, rounded once to 6 dp half-even (wide precision avoids double rounding)."""
    if quantity == 0:
        return Decimal(0)
    with localcontext() as context:
        context.prec = 60
        return (notional / quantity).quantize(AVG_PX_QUANTUM, rounding=ROUND_HALF_EVEN)


@dataclass(frozen=True)
class OrderSnapshot:
    """An immutable view of a venue order at one moment."""

    owner: str
    cl_ord_id: str
    order_id: str
    symbol: str
    side: str
    quantity: Decimal
    limit_price: Decimal
    time_in_force: str
    state: OrderState
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    created_at: datetime

    @property
    def is_done(self) -> bool:
        return self.state in DONE_STATES


class VenueOrder:
    """Mutable order record owned by the matching engine; everyone else sees snapshots."""

    def __init__(self, owner: str, cl_ord_id: str, order_id: str, symbol: str, side: str,
                 quantity: Decimal, limit_price: Decimal, time_in_force: str, created_at: datetime) -> None:
        self.owner = owner
        self.cl_ord_id = cl_ord_id
        self.order_id = order_id
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.limit_price = limit_price
        self.time_in_force = time_in_force
        self.created_at = created_at
        self.state = OrderState.PENDING_NEW
        self.cum_qty = Decimal(0)
        self.notional = Decimal(0)
        # Armed once the first matching attempt ran: only armed orders rest and re-match on
        # market updates, so a configured venue latency is not bypassed by a ticker step.
        self.armed = False

    @property
    def is_done(self) -> bool:
        return self.state in DONE_STATES

    @property
    def leaves_qty(self) -> Decimal:
        return Decimal(0) if self.is_done else self.quantity - self.cum_qty

    @property
    def avg_px(self) -> Decimal:
        return average_price(self.notional, self.cum_qty)

    def apply(self, trigger: Trigger) -> None:
        self.state = apply(self.state, trigger)

    def record_fill(self, price: Decimal, quantity: Decimal) -> None:
        assert price > 0, f"fill price {price} must be positive"
        assert 0 < quantity <= self.leaves_qty, f"fill {quantity} exceeds leaves {self.leaves_qty}"
        self.cum_qty += quantity
        self.notional += price * quantity
        self.apply(Trigger.FILL if self.cum_qty == self.quantity else Trigger.PARTIAL_FILL)
        assert self.cum_qty <= self.quantity

    def snapshot(self) -> OrderSnapshot:
        return OrderSnapshot(
            owner=self.owner, cl_ord_id=self.cl_ord_id, order_id=self.order_id, symbol=self.symbol,
            side=self.side, quantity=self.quantity, limit_price=self.limit_price,
            time_in_force=self.time_in_force, state=self.state, cum_qty=self.cum_qty,
            leaves_qty=self.leaves_qty, avg_px=self.avg_px, created_at=self.created_at,
        )
