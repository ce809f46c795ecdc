"""The simulated venue's matching engine: limit orders against the NBBO (pure domain, no I/O).

A marketable limit takes liquidity at the NBBO touch (or better, when the venue simulates a
dark-pool midpoint or a wholesaler's sub-penny improvement), for at most the size displayed
at the touch; the rest rests (day) or is canceled (IOC). Orders are keyed by (owner, ClOrdID)
so several FIX sessions can share one venue without their ClOrdIDs colliding.

With a calendar, the venue trades only while a US equity session (pre-market, regular,
post-market or overnight) is in progress: new orders are rejected (exchange closed) and resting
orders do not match while the market is closed. Every fill is recorded in the venue's journal,
which its T+1 statement and custody position report are written from.
"""
from __future__ import annotations

import random
import threading
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Callable

from core.types import Side
from venue_sim.custody import FillJournal
from venue_sim.errors import VenueConfigError
from venue_sim.events import (
    CancelRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    RejectCode,
    VenueEvent,
    VenueFill,
    VenueReject,
)
from venue_sim.market import Market, Nbbo, is_whole
from venue_sim.order_index import IndexSizes, OrderIndex
from venue_sim.orders import BookOrder, OrderSnapshot, ReceivedSide, Trigger, recognised_side
from venue_sim.venue_calendar import SessionCalendar, closed_text, trade_date_of

__all__ = ["MatchingEngine", "TIMES_IN_FORCE", "ORDER_TYPES"]

TIMES_IN_FORCE = ("day", "ioc")
ORDER_TYPES = ("limit",)
SUB_PENNY = Decimal("0.001")
MAX_SUB_PENNY_STEPS = 4
PROBABILITY_SCALE = 1_000_000
# Zero-padded so that ExecIDs (the statement's trade ids) sort in execution order as plain text.
EXEC_SEQ_DIGITS = 9


class MatchingEngine:
    def __init__(self, market: Market, clock: Callable[[], datetime], rng: random.Random,
                 price_improvement_probability: Decimal = Decimal(0), id_prefix: str | None = None, *,
                 calendar: SessionCalendar | None = None, journal: FillJournal | None = None) -> None:
        """`calendar` None: the venue always trades. `journal`: where fills are recorded (a fresh one if None)."""
        if not isinstance(price_improvement_probability, Decimal):
            raise VenueConfigError(f"price improvement probability must be a Decimal, got "
                                   f"{price_improvement_probability!r}")
        if not 0 <= price_improvement_probability <= 1:
            raise VenueConfigError(f"price improvement probability {price_improvement_probability} is not within [0, 1]")
        self._market = market
        self._clock = clock
        self._rng = rng
        self._calendar = calendar
        self._journal = journal if journal is not None else FillJournal()
        self._improvement_threshold = int(price_improvement_probability * PROBABILITY_SCALE)
        # Ids carry the engine's start time so a restarted venue never reuses an ExecID.
        self._id_prefix = id_prefix if id_prefix is not None else f"V{clock():%Y%m%d%H%M%S}"
        self._index = OrderIndex()
        self._order_seq = 0
        self._exec_seq = 0
        self._lock = threading.RLock()

    # -- commands ---------------------------------------------------------------------------
    def submit(self, cl_ord_id: str, symbol: str, side: str, quantity: Decimal | None,
               limit_price: Decimal | None, time_in_force: str = "day", *, owner: str = "",
               order_type: str = "limit") -> list[VenueEvent]:
        """Accept and immediately match (accept() followed by execute())."""
        with self._lock:
            events = self.accept(cl_ord_id, symbol, side, quantity, limit_price, time_in_force,
                                 owner=owner, order_type=order_type)
            if isinstance(events[-1], OrderAccepted):
                events += self.execute(cl_ord_id, owner=owner)
            return events

    def accept(self, cl_ord_id: str, symbol: str, side: str, quantity: Decimal | None,
               limit_price: Decimal | None, time_in_force: str = "day", *, owner: str = "",
               order_type: str = "limit") -> list[VenueEvent]:
        """Validate and book the order without matching it yet: [OrderAccepted] or [OrderRejected].

        `side` is a core Side or its value; anything else is rejected and echoed back as received."""
        with self._lock:
            now = self._clock()
            received = recognised_side(side)
            if (owner, cl_ord_id) in self._index:
                # The ClOrdID stays bound to the first order: a duplicate is never booked or filled.
                reject = VenueReject(RejectCode.DUPLICATE_ORDER, f"duplicate ClOrdID {cl_ord_id}")
                return [self._rejected(owner, None, cl_ord_id, symbol, received, quantity, limit_price,
                                       time_in_force, reject, now)]
            problem = self._closed(now) or self._validate(symbol, received, quantity, limit_price, time_in_force,
                                                          order_type)
            order_id = self._next_order_id()
            order = BookOrder(owner, cl_ord_id, order_id, symbol, received,
                              quantity if quantity is not None else Decimal(0),
                              limit_price if limit_price is not None else Decimal(0), time_in_force, now,
                              sequence=self._order_seq)
            order.apply(Trigger.ACCEPT if problem is None else Trigger.REJECT)
            self._index.book(order, trade_date_of(now))
            if problem is not None:
                return [self._rejected(owner, order_id, cl_ord_id, symbol, received, quantity,
                                       limit_price, time_in_force, problem, now)]
            return [OrderAccepted(owner, self._next_exec_id(), order.snapshot(), now)]

    def execute(self, cl_ord_id: str, *, owner: str = "") -> list[VenueEvent]:
        """First matching attempt of an accepted order; an IOC remainder is canceled, a Day remainder rests."""
        with self._lock:
            order = self._index.get((owner, cl_ord_id))
            if order is None or order.armed or order.is_done:
                return []  # canceled during the venue latency, or already executed
            order.armed = True
            events = self._try_fill(order)
            if order.is_done:
                return events
            if order.time_in_force != "ioc":
                self._index.rest(order)
                return events
            now = self._clock()
            closed = closed_text(self._calendar, now)
            order.apply(Trigger.CANCEL)
            self._index.retire(order, trade_date_of(now))
            reason = "IOC remainder canceled" + (f" ({closed})" if closed else "")
            events.append(OrderCanceled(owner, self._next_exec_id(), order.snapshot(), None, reason, now))
            return events

    def on_market_update(self, symbols: Iterable[str] | None = None) -> list[VenueEvent]:
        """End Day orders of a past trading date, then fill resting orders that became marketable.

        `symbols`: the symbols whose quotes moved (None: all); only their resting orders are looked at."""
        with self._lock:
            events: list[VenueEvent] = self._end_day_orders(self._clock())
            for order in self._index.resting(symbols):
                events += self._try_fill(order)
            return events

    def _end_day_orders(self, now: datetime) -> list[VenueEvent]:
        """A Day order lives until the end of its New York trading date."""
        today = trade_date_of(now)
        events: list[VenueEvent] = []
        for order in self._index.day_orders_before(today):
            order.apply(Trigger.CANCEL)
            self._index.retire(order, today)
            events.append(OrderCanceled(order.owner, self._next_exec_id(), order.snapshot(), None,
                                        "day order expired at the end of its trading day", now))
        return events

    def cancel(self, orig_cl_ord_id: str, cl_ord_id: str, *, owner: str = "") -> list[VenueEvent]:
        with self._lock:
            now = self._clock()
            order = self._index.get((owner, orig_cl_ord_id))
            if order is None:
                reject = VenueReject(RejectCode.UNKNOWN_ORDER, f"unknown order {orig_cl_ord_id}")
                return [CancelRejected(owner, cl_ord_id, orig_cl_ord_id, None, reject, now)]
            if order.is_done:
                reject = VenueReject(RejectCode.TOO_LATE_TO_CANCEL,
                                     f"order {orig_cl_ord_id} is already {order.state.value}")
                return [CancelRejected(owner, cl_ord_id, orig_cl_ord_id, order.snapshot(), reject, now)]
            order.apply(Trigger.CANCEL)
            self._index.retire(order, trade_date_of(now))
            return [OrderCanceled(owner, self._next_exec_id(), order.snapshot(), cl_ord_id,
                                  "canceled on request", now)]

    def cancel_restored(self, orders: Iterable[OrderSnapshot], reason: str) -> list[VenueEvent]:
        """After a restart: orders that were live when the venue stopped are canceled (what they had
        filled stands, in the journal), booked again so status queries answer for them."""
        with self._lock:
            now = self._clock()
            events: list[VenueEvent] = []
            for snapshot in orders:
                if (snapshot.owner, snapshot.cl_ord_id) in self._index:
                    continue
                self._order_seq += 1
                order = BookOrder(snapshot.owner, snapshot.cl_ord_id, snapshot.order_id, snapshot.symbol,
                                  snapshot.side, snapshot.quantity, snapshot.limit_price, snapshot.time_in_force,
                                  snapshot.created_at, sequence=self._order_seq)
                order.apply(Trigger.ACCEPT)
                if snapshot.cum_qty > 0:
                    order.record_fill(snapshot.avg_px, snapshot.cum_qty)
                if not order.is_done:
                    order.apply(Trigger.CANCEL)
                self._index.book(order, trade_date_of(now))
                events.append(OrderCanceled(order.owner, self._next_exec_id(), order.snapshot(), None, reason, now))
            return events

    # -- queries ----------------------------------------------------------------------------
    def status(self, cl_ord_id: str, *, owner: str = "") -> OrderSnapshot | None:
        with self._lock:
            order = self._index.get((owner, cl_ord_id))
            return None if order is None else order.snapshot()

    def orders(self, owner: str | None = None) -> list[OrderSnapshot]:
        """Every order still answered for (live ones, and finished ones for DONE_ORDER_RETENTION_DAYS;
        rejected ones included), in submission order; None = all owners."""
        with self._lock:
            return [order.snapshot() for order in self._index.orders(owner)]

    def index_sizes(self) -> IndexSizes:
        """How many orders the engine holds live, resting per symbol, and answerable (diagnostics, tests)."""
        with self._lock:
            return self._index.sizes()

    def fills(self, trade_date: date | None = None, account: str | None = None) -> list[VenueFill]:
        """The venue's record of its executions (see FillJournal.fills)."""
        with self._lock:
            return self._journal.fills(trade_date, account)

    def positions(self) -> dict[tuple[str, str], Decimal]:
        """Shares held at custody per (account, symbol): opening position + buys - sells."""
        with self._lock:
            return self._journal.positions()

    def is_open(self, at: datetime) -> bool:
        return closed_text(self._calendar, at) is None

    # -- internals --------------------------------------------------------------------------
    def _closed(self, now: datetime) -> VenueReject | None:
        text = closed_text(self._calendar, now)
        return None if text is None else VenueReject(RejectCode.EXCHANGE_CLOSED, text)

    def _validate(self, symbol: str, side: ReceivedSide, quantity: Decimal | None, limit_price: Decimal | None,
                  time_in_force: str, order_type: str) -> VenueReject | None:
        if order_type not in ORDER_TYPES:
            return VenueReject(RejectCode.UNSUPPORTED_ORDER_TYPE, f"order type {order_type} not supported")
        if not isinstance(side, Side):
            return VenueReject(RejectCode.INVALID_SIDE, f"side {side} not supported")
        if time_in_force not in TIMES_IN_FORCE:
            return VenueReject(RejectCode.INVALID_TIME_IN_FORCE, f"time in force {time_in_force} not supported")
        if quantity is None or not quantity > 0:
            return VenueReject(RejectCode.INVALID_QUANTITY, f"quantity {quantity} must be positive")
        if not is_whole(quantity):
            return VenueReject(RejectCode.INVALID_QUANTITY, f"quantity {quantity} is not whole shares")
        if limit_price is None or not limit_price > 0:
            return VenueReject(RejectCode.INVALID_PRICE, f"limit price {limit_price} must be positive")
        if not self._market.has_symbol(symbol):
            return VenueReject(RejectCode.UNKNOWN_SYMBOL, f"unknown symbol {symbol}")
        return None

    def _try_fill(self, order: BookOrder) -> list[VenueEvent]:
        now = self._clock()
        if not self.is_open(now):
            return []  # nothing matches while the market is closed; resting orders wait for the open
        side = order.side
        assert isinstance(side, Side), f"order {order.key} with side {side!r} was accepted"
        taken = self._market.take(order.symbol, side, order.leaves_qty, order.limit_price, now)
        if taken is None:
            return []
        price = self._fill_price(side, order.limit_price, taken.nbbo)
        order.record_fill(price, taken.quantity)
        fill = VenueFill(
            exec_id=self._next_exec_id(), account=order.owner, cl_ord_id=order.cl_ord_id, order_id=order.order_id,
            symbol=order.symbol, side=side, last_px=price, last_qty=taken.quantity,
            cum_qty=order.cum_qty, leaves_qty=order.leaves_qty, avg_px=order.avg_px,
            nbbo_bid=taken.nbbo.bid, nbbo_offer=taken.nbbo.ask, executed_at=now, trade_date=trade_date_of(now),
        )
        self._journal.record(fill)
        if order.is_done:
            self._index.retire(order, fill.trade_date)
        return [OrderFilled(order.owner, fill, order.snapshot())]

    def _fill_price(self, side: Side, limit_price: Decimal, nbbo: Nbbo) -> Decimal:
        touch = nbbo.touch_price(side)
        if self._rng.randrange(PROBABILITY_SCALE) >= self._improvement_threshold:
            return touch
        if self._rng.randrange(2) == 0:
            candidate = nbbo.midpoint  # dark-pool midpoint cross
        else:
            improvement = SUB_PENNY * self._rng.randint(1, MAX_SUB_PENNY_STEPS)  # wholesaler
            candidate = touch - improvement if side is Side.BUY else touch + improvement
        # Improvement never crosses the far side of the NBBO.
        price = max(candidate, nbbo.bid) if side is Side.BUY else min(candidate, nbbo.ask)
        assert nbbo.bid <= price <= nbbo.ask, f"fill {price} outside NBBO {nbbo.bid}/{nbbo.ask}"
        assert (price <= limit_price) if side is Side.BUY else (price >= limit_price), "fill through limit"
        return price

    def _rejected(self, owner: str, order_id: str | None, cl_ord_id: str, symbol: str, side: ReceivedSide,
                  quantity: Decimal | None, limit_price: Decimal | None, time_in_force: str,
                  reject: VenueReject, now: datetime) -> OrderRejected:
        return OrderRejected(owner, self._next_exec_id(), order_id, cl_ord_id, symbol, side, quantity,
                             limit_price, time_in_force, reject, now)

    def _next_order_id(self) -> str:
        self._order_seq += 1
        return f"{self._id_prefix}-O{self._order_seq}"

    def _next_exec_id(self) -> str:
        self._exec_seq += 1
        return f"{self._id_prefix}-X{self._exec_seq:0{EXEC_SEQ_DIGITS}d}"
