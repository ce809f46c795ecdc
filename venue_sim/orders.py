"""A venue order: its lifecycle as a transition table, and its fill bookkeeping (pure domain)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from enum import Enum

from core.state_machine import TransitionTable, from_each
from core.types import Side

AVG_PX_QUANTUM = Decimal("0.000001")

# A side as the venue received it: core's Side once recognised, otherwise the raw text, kept only so
# the reject (and a later status report of the rejected order) can echo it back unchanged.
ReceivedSide = Side | str


def recognised_side(value: str) -> ReceivedSide:
    """Side("buy") for "buy" (or Side.BUY); anything else comes back as received."""
    try:
        return Side(value)
    except ValueError:
        return value


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


WORKING_STATES = (OrderState.NEW, OrderState.PARTIALLY_FILLED)

TRANSITIONS: dict[tuple[OrderState, Trigger], OrderState] = {
    (OrderState.PENDING_NEW, Trigger.ACCEPT): OrderState.NEW,
    (OrderState.PENDING_NEW, Trigger.REJECT): OrderState.REJECTED,
    **from_each(WORKING_STATES, Trigger.PARTIAL_FILL, OrderState.PARTIALLY_FILLED),
    **from_each(WORKING_STATES, Trigger.FILL, OrderState.FILLED),
    **from_each(WORKING_STATES, Trigger.CANCEL, OrderState.CANCELED),
}

DONE_STATES = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})

ORDER_MACHINE = TransitionTable("a venue order", TRANSITIONS, DONE_STATES)


def apply(state: OrderState, trigger: Trigger) -> OrderState:
    """The state after `trigger`; core.state_machine.InvalidTransition when the table has no such move."""
    return ORDER_MACHINE.next_state(state, trigger)


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
    side: ReceivedSide
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


OrderKey = tuple[str, str]  # (owner, ClOrdID): several sessions may use the same ClOrdID


class BookOrder:
    """Mutable order record owned by the matching engine; everyone else sees snapshots.

    `sequence` is the engine's booking number: resting orders of several symbols are matched in it."""

    def __init__(self, owner: str, cl_ord_id: str, order_id: str, symbol: str, side: ReceivedSide,
                 quantity: Decimal, limit_price: Decimal, time_in_force: str, created_at: datetime, *,
                 sequence: int = 0) -> None:
        self.owner = owner
        self.cl_ord_id = cl_ord_id
        self.order_id = order_id
        self.symbol = symbol
        self.side = side
        self.quantity = quantity
        self.limit_price = limit_price
        self.time_in_force = time_in_force
        self.created_at = created_at
        self.sequence = sequence
        self.state = OrderState.PENDING_NEW
        self.cum_qty = Decimal(0)
        self.notional = Decimal(0)
        # Armed once the first matching attempt ran: only armed orders rest and re-match on
        # market updates, so a configured venue latency is not bypassed by a ticker step.
        self.armed = False

    @property
    def key(self) -> OrderKey:
        return (self.owner, self.cl_ord_id)

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
