"""The connector's venue orders: send once (persisted first), poll the silent ones,
cancel at the hard timeout, retry a rejected order with the next ClOrdID (bounded),
and hand the final outcome to the solver.

Runs on the connector's thread, off its injected clock: tests move time, they
do not sleep through the 5 s poll or the 30 s timeout."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from broker import refs
from broker.messages import CancelOrder, ExecType, OrderToSend, OrdStatus, StatusQuery, VenueExecution
from broker.orders import ExecutedFill, InvalidVenueReport, OrderState, PlacedOrder
from broker.ports import OrderStore
from broker.refs import RfqRef
from broker.state import BrokerRfq
from core.clock import Clock
from core.state_machine import InvalidTransition

log = structlog.get_logger(__name__)

# OrdRejReason (103) codes that another attempt cannot fix: unknown symbol, exchange closed,
# duplicate order, incorrect quantity. Any other reject is retried with the next ClOrdID.
FINAL_REJECT_REASONS = frozenset({"1", "2", "6", "13"})
# A status answer's OrdStatus that ends the order, as the ExecType that would have ended it.
TERMINAL_STATUS_AS_EXEC_TYPE: dict[str, ExecType] = {OrdStatus.CANCELED: ExecType.CANCELED, OrdStatus.REJECTED: ExecType.REJECTED,
                                OrdStatus.EXPIRED: ExecType.CANCELED}
# Orders. Finished orders are kept in memory this long (by count, oldest forgotten first), so a late
# duplicate report (a resend, a poll answer crossing the final report) is recognised as a duplicate;
# after that only SQL has them, and a report for one is logged and ignored. Live orders are bounded
# by the solver's open-RFQ limit (one live order per open RFQ).
RECENTLY_FINISHED_ORDERS = 1_000


@dataclass(frozen=True)
class OrderTimers:
    poll_interval_s: float = 5.0  # OrderStatusRequest for an order with no news this long
    hard_timeout_s: float = 30.0  # OrderCancelRequest for an order still working this long

    def __post_init__(self) -> None:
        for name, value in (("poll_interval_s", self.poll_interval_s), ("hard_timeout_s", self.hard_timeout_s)):
            if not value > 0:
                raise ValueError(f"order timer {name} must be a positive number of seconds, got {value}")


@dataclass(frozen=True)
class VenueResult:
    """What an order traded: a positive quantity at an average price."""

    quantity: Decimal
    average_price: Decimal


@dataclass(frozen=True)
class OrderOutcome:
    rfq_ref: RfqRef
    traded: VenueResult | None  # None: the venue filled nothing
    nbbo_bid: Decimal | None
    nbbo_offer: Decimal | None
    text: str | None

    @property
    def filled_quantity(self) -> Decimal:
        return Decimal(0) if self.traded is None else self.traded.quantity


class OrderManager:
    def __init__(self, clock: Clock, timers: OrderTimers, send_order: Callable[[OrderToSend], None],
                 send_status_query: Callable[[StatusQuery], None], send_cancel: Callable[[CancelOrder], None],
                 store: OrderStore, on_done: Callable[[OrderOutcome], None],
                 finished_kept: int = RECENTLY_FINISHED_ORDERS,
                 may_retry: Callable[[RfqRef], bool] = lambda rfq_ref: True) -> None:
        """`may_retry`: whether a rejected order's RFQ may still get another order (the gateway has
        not ended it, its settlement deadline leaves time for one more order)."""
        if finished_kept < 0:
            raise ValueError(f"finished_kept must be 0 or more orders, got {finished_kept}")
        self._clock, self._timers = clock, timers
        self._send_order, self._send_status_query, self._send_cancel = send_order, send_status_query, send_cancel
        self._store = store
        self._on_done = on_done
        self.may_retry = may_retry
        self._finished_kept = finished_kept
        self._finished: deque[str] = deque()  # ClOrdIDs of the finished orders still in `orders`, oldest first
        self.orders: dict[str, PlacedOrder] = {}  # live orders and the most recently finished ones

    def restore(self, orders: list[PlacedOrder]) -> None:
        """After a restart: orders are known again and never re-sent."""
        for order in orders:
            self.orders[order.order.cl_ord_id] = order
            if order.is_done:
                self._forget_later(order.order.cl_ord_id)

    def place(self, rfq: BrokerRfq, limit_price: Decimal) -> PlacedOrder:
        """The RFQ's first order: a Day limit order for the RFQ's side and quantity."""
        order_id = refs.cl_ord_id(rfq.rfq_ref, 1)
        if order_id in self.orders:
            return self.orders[order_id]  # the same order is never sent twice
        now = self._clock.now()
        message = OrderToSend(order_id, rfq.symbol, rfq.side, rfq.quantity, limit_price, now)
        return self._send(PlacedOrder(order=message, quote_resp_id=rfq.quote_resp_id, quoted_price=rfq.quoted_price,
                                      rfq_ref=rfq.rfq_ref, last_news_at=now))

    def _send(self, order: PlacedOrder) -> PlacedOrder:
        self._store.save_new_order(order)  # committed before the send: a crash never forgets a sent order
        self.orders[order.order.cl_ord_id] = order
        self._send_order(order.order)
        log.debug("venue_order_sent", rfq_ref=order.rfq_ref, cl_ord_id=order.order.cl_ord_id,
                 limit=str(order.order.limit_price), attempt=order.attempt)
        return order

    def on_report(self, report: VenueExecution) -> None:
        with structlog.contextvars.bound_contextvars(cl_ord_id=report.cl_ord_id):
            self._on_report(report)

    def _on_report(self, report: VenueExecution) -> None:
        order = self.orders.get(report.cl_ord_id)
        if order is None:
            # Not ours, or finished long enough ago to be forgotten (only SQL has it): nothing can change.
            log.warning("venue_report_for_unknown_order", cl_ord_id=report.cl_ord_id, exec_id=report.exec_id)
            return
        now = self._clock.now()
        try:
            updated, fill = self._apply(order, report, now)
        except (InvalidTransition, InvalidVenueReport) as error:
            log.error("venue_report_unexpected", cl_ord_id=report.cl_ord_id, error=str(error))
            return
        updated = replace(updated, last_news_at=now)
        self._store.save_order(updated, fill=fill if updated.cum_quantity > order.cum_quantity else None)
        self.orders[report.cl_ord_id] = updated
        if updated.is_done and not order.is_done:
            self._forget_later(report.cl_ord_id)
            self._finish(updated)

    def _apply(self, order: PlacedOrder, report: VenueExecution,
               now: datetime) -> tuple[PlacedOrder, ExecutedFill | None]:
        """The order after a report, and the fill the report carried (if any)."""
        if report.exec_type != ExecType.ORDER_STATUS:
            updated = order.apply(report)
            return updated, (_fill(report, now) if report.exec_type == ExecType.TRADE else None)
        # A status answer (poll, or mass status after a restart): trust the venue's totals.
        missed = report.cum_quantity - order.cum_quantity
        fill = None
        if missed > 0 and report.average_price is not None:
            missed_price = (report.average_price * report.cum_quantity - order.notional) / missed
            still_open = report.ord_status in (OrdStatus.PARTIALLY_FILLED, OrdStatus.FILLED)
            synthetic = replace(report, exec_type=ExecType.TRADE, last_price=missed_price, last_quantity=missed,
                                exec_id=f"{order.order.cl_ord_id}-recovered-{report.cum_quantity}",
                                ord_status=report.ord_status if still_open else OrdStatus.PARTIALLY_FILLED)
            order, fill = order.apply(synthetic), _fill(synthetic, now)
        terminal = TERMINAL_STATUS_AS_EXEC_TYPE.get(report.ord_status)
        if terminal is not None and not order.is_done:
            order = order.apply(replace(report, exec_type=terminal, exec_id=f"{report.exec_id}-final"))
        return order, fill

    def _forget_later(self, cl_ord_id: str) -> None:
        """Keep a finished order for late duplicates, forgetting the oldest beyond the limit."""
        self._finished.append(cl_ord_id)
        while len(self._finished) > self._finished_kept:
            self.orders.pop(self._finished.popleft(), None)

    @property
    def order_timeout_s(self) -> float:
        """The longest an order works at the venue before the broker cancels it."""
        return self._timers.hard_timeout_s

    def abandon(self, rfq_ref: RfqRef) -> int:
        """Cancel every live order of an RFQ the gateway has ended; returns how many were asked."""
        now = self._clock.now()
        asked = 0
        for order in [order for order in self.orders.values() if order.rfq_ref == rfq_ref and order.is_live]:
            if order.cancel_requested_at is None:
                self._cancel(order, now)
                asked += 1
        return asked

    def _cancel(self, order: PlacedOrder, now: datetime) -> None:
        sent = order.order
        self._send_cancel(CancelOrder(refs.cancel_id(sent.cl_ord_id), sent.cl_ord_id, sent.symbol, sent.side,
                                      sent.quantity, now))
        self.orders[sent.cl_ord_id] = replace(order, cancel_requested_at=now, last_poll_at=now)

    def on_tick(self) -> None:
        now = self._clock.now()
        for order in [order for order in self.orders.values() if order.is_live]:
            self._chase(order, now)

    def _chase(self, order: PlacedOrder, now: datetime) -> None:
        sent = order.order
        if order.cancel_requested_at is None and now - sent.sent_at >= timedelta(seconds=self._timers.hard_timeout_s):
            self._cancel(order, now)
            log.info("venue_order_timeout_cancel", cl_ord_id=sent.cl_ord_id, rfq_ref=order.rfq_ref)
            return
        quiet_since = max((at for at in (order.last_news_at, order.last_poll_at) if at is not None),
                          default=sent.sent_at)
        if now - quiet_since >= timedelta(seconds=self._timers.poll_interval_s):
            self._send_status_query(StatusQuery(sent.cl_ord_id, sent.symbol, sent.side))
            self.orders[sent.cl_ord_id] = replace(order, last_poll_at=now)

    def _finish(self, order: PlacedOrder) -> None:
        if (order.state is OrderState.REJECTED and order.cum_quantity == 0 and order.attempt < refs.MAX_ATTEMPTS
                and order.reject_reason not in FINAL_REJECT_REASONS and self.may_retry(order.rfq_ref)):
            log.warning("venue_order_rejected_retrying", cl_ord_id=order.order.cl_ord_id, text=order.last_text)
            now = self._clock.now()
            attempt = order.attempt + 1
            message = replace(order.order, cl_ord_id=refs.cl_ord_id(order.rfq_ref, attempt), sent_at=now)
            self._send(PlacedOrder(order=message, quote_resp_id=order.quote_resp_id, quoted_price=order.quoted_price,
                                   rfq_ref=order.rfq_ref, attempt=attempt, last_news_at=now))
            return
        traded = (VenueResult(order.cum_quantity, order.notional / order.cum_quantity)
                  if order.cum_quantity > 0 else None)
        self._on_done(OrderOutcome(order.rfq_ref, traded, order.nbbo_bid, order.nbbo_offer,
                                   self._outcome_text(order)))

    def _outcome_text(self, order: PlacedOrder) -> str | None:
        """Why the order ended, in the broker's words: a cancel we sent at the timeout is not the
        requester's "cancel on request" (which is what the venue says of any cancel)."""
        if order.cancel_requested_at is not None and order.state is OrderState.CANCELED:
            return (f"venue order canceled by the broker after its {self._timers.hard_timeout_s:g} s order "
                    f"timeout; {order.cum_quantity} of {order.order.quantity} filled")
        return order.last_text

    def working_orders(self) -> list[PlacedOrder]:
        return [order for order in self.orders.values() if order.is_live]


def _fill(report: VenueExecution, now: datetime) -> ExecutedFill | None:
    """The execution a trade report carries (PlacedOrder.apply has checked price and quantity)."""
    if report.last_price is None or report.last_quantity is None:
        return None
    return ExecutedFill(exec_id=report.exec_id, venue_order_id=report.order_id, quantity=report.last_quantity,
                        price=report.last_price, nbbo_bid=report.nbbo_bid, nbbo_offer=report.nbbo_offer,
                        executed_at=report.transact_time or now, venue_seq=report.msg_seq_num)
