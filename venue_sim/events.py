"""What the simulated venue reports back: immutable, past-tense events (pure domain)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Union

from core.types import Side
from venue_sim.orders import OrderSnapshot, ReceivedSide


class RejectCode(Enum):
    UNKNOWN_SYMBOL = "unknown_symbol"
    INVALID_QUANTITY = "invalid_quantity"
    INVALID_PRICE = "invalid_price"
    INVALID_SIDE = "invalid_side"
    INVALID_TIME_IN_FORCE = "invalid_time_in_force"
    UNSUPPORTED_ORDER_TYPE = "unsupported_order_type"
    DUPLICATE_ORDER = "duplicate_order"
    UNKNOWN_ORDER = "unknown_order"
    TOO_LATE_TO_CANCEL = "too_late_to_cancel"
    VENUE_BUSY = "venue_busy"
    EXCHANGE_CLOSED = "exchange_closed"


@dataclass(frozen=True)
class VenueReject:
    code: RejectCode
    text: str


@dataclass(frozen=True)
class VenueFill:
    """One execution; nbbo_bid/nbbo_offer are the NBBO the fill traded against.

    account is the client's CompID at the venue (the order's owner); trade_date is the New York
    date of executed_at, the date the T+1 statement reports the trade under.
    """

    exec_id: str
    account: str
    cl_ord_id: str
    order_id: str
    symbol: str
    side: Side
    last_px: Decimal
    last_qty: Decimal
    cum_qty: Decimal
    leaves_qty: Decimal
    avg_px: Decimal
    nbbo_bid: Decimal
    nbbo_offer: Decimal
    executed_at: datetime
    trade_date: date


@dataclass(frozen=True)
class OrderAccepted:
    owner: str
    exec_id: str
    order: OrderSnapshot
    accepted_at: datetime


@dataclass(frozen=True)
class OrderFilled:
    owner: str
    fill: VenueFill
    order: OrderSnapshot


@dataclass(frozen=True)
class OrderCanceled:
    """cancel_cl_ord_id is the cancel request's ClOrdID; None for an IOC remainder."""

    owner: str
    exec_id: str
    order: OrderSnapshot
    cancel_cl_ord_id: str | None
    reason: str
    canceled_at: datetime


@dataclass(frozen=True)
class OrderRejected:
    """A refused new order; the fields echo the request as received (side may be invalid)."""

    owner: str
    exec_id: str
    order_id: str | None
    cl_ord_id: str
    symbol: str
    side: ReceivedSide
    quantity: Decimal | None
    limit_price: Decimal | None
    time_in_force: str
    reject: VenueReject
    rejected_at: datetime


@dataclass(frozen=True)
class CancelRejected:
    owner: str
    cl_ord_id: str
    orig_cl_ord_id: str
    order: OrderSnapshot | None
    reject: VenueReject
    rejected_at: datetime


VenueEvent = Union[OrderAccepted, OrderFilled, OrderCanceled, OrderRejected, CancelRejected]
