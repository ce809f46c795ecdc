"""The connector's venue orders: send once (persisted first), poll the silent ones,
cancel at the hard timeout, retry a rejected order with the next ClOrdID (bounded),
and hand the final outcome to the solver.

Runs on the connector's thread, off its injected clock: tests move time, they
do not sleep through the 5 s poll or the 30 s timeout."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from broker.messages import CancelOrder, OrderToSend, StatusQuery, VenueExecution
from broker.orders import OrderState, UnexpectedReport, VenueOrder
from broker.state import BrokerRfq
from core.clock import Clock

log = structlog.get_logger(__name__)

MAX_ATTEMPTS = 3  # rfq-{id}-001 .. -003: a venue that keeps rejecting ends the RFQ instead of looping
FINAL_REJECT_REASONS = {"1", "2", "6", "13"}  # unknown symbol, exchange closed, duplicate, bad quantity: no retry
LIVE_STATES = (OrderState.PENDING_NEW, OrderState.NEW, OrderState.PARTIALLY_FILLED)


@dataclass(frozen=True)
class OrderTimers:
    poll_interval_s: float = 5.0  # OrderStatusRequest for an order with no news this long
    hard_timeout_s: float = 30.0  # OrderCancelRequest for an order still working this long


@dataclass(frozen=True)
class OrderOutcome:
    rfq_id: int
    filled_quantity: Decimal
    venue_average: Decimal | None
    nbbo_bid: Decimal | None
    nbbo_offer: Decimal | None
    text: str | None


def cl_ord_id(rfq_id: int, attempt: int) -> str:
    assert 1 <= attempt <= MAX_ATTEMPTS
    return f"rfq-{rfq_id}-{attempt:03d}"


class OrderManager:
    def __init__(self, clock: Clock, timers: OrderTimers, send_order: Callable[[OrderToSend], None],
                 send_status_query: Callable[[StatusQuery], None], send_cancel: Callable[[CancelOrder], None],
                 store, on_done: Callable[[OrderOutcome], None]) -> None:
        self._clock, self._timers = clock, timers
        self._send_order, self._send_status_query, self._send_cancel = send_order, send_status_query, send_cancel
        self._store = store
        self._on_done = on_done
        self.orders: dict[str, VenueOrder] = {}

    def restore(self, orders: list[VenueOrder]) -> None:
        """After a restart: orders are known again and never re-sent."""
        for order in orders:
            self.orders[order.order.cl_ord_id] = order

    def place(self, rfq: BrokerRfq, limit_price: Decimal, attempt: int = 1) -> VenueOrder:
        order_id = cl_ord_id(rfq.rfq_id, attempt)
        if order_id in self.orders:
            return self.orders[order_id]  # the same order is never sent twice
        now = self._clock.now()
        message = OrderToSend(order_id, rfq.symbol, rfq.side, rfq.quantity, limit_price, now)
        order = VenueOrder(order=message, quote_resp_id=rfq.quote_resp_id, quoted_price=rfq.quoted_price,
                           rfq_id=rfq.rfq_id, attempt=attempt, last_news_at=now)
        self._store.save_new_order(order)  # committed before the send: a crash never forgets a sent order
        self.orders[order_id] = order
        self._send_order(message)
        log.info("venue_order_sent", rfq_id=rfq.rfq_id, cl_ord_id=order_id, limit=str(limit_price), attempt=attempt)
        return order

    def on_report(self, report: VenueExecution) -> None:
        with structlog.contextvars.bound_contextvars(cl_ord_id=report.cl_ord_id):
            self._on_report(report)

    def _on_report(self, report: VenueExecution) -> None:
        order = self.orders.get(report.cl_ord_id)
        if order is None:
            log.warning("venue_report_for_unknown_order", cl_ord_id=report.cl_ord_id)
            return
        now = self._clock.now()
        try:
            updated, fill = self._apply(order, report)
        except UnexpectedReport as error:
            log.error("venue_report_unexpected", cl_ord_id=report.cl_ord_id, error=str(error))
            return
        updated = replace(updated, last_news_at=now)
        self._store.save_order(updated, fill=fill if updated.cum_quantity > order.cum_quantity else None)
        self.orders[report.cl_ord_id] = updated
        if updated.is_done and not order.is_done:
            self._finish(updated)

    def _apply(self, order: VenueOrder, report: VenueExecution) -> tuple[VenueOrder, VenueExecution | None]:
        """The order after a report, and the fill the report carried (if any)."""
        if report.exec_type != "I":
            return order.apply(report), (report if report.exec_type == "F" else None)
        # A status answer (poll, or mass status after a restart): trust the venue's totals.
        missed = report.cum_quantity - order.cum_quantity
        fill = None
        if missed > 0 and report.average_price is not None:
            missed_price = (report.average_price * report.cum_quantity - order.notional) / missed
            synthetic = replace(report, exec_type="F", last_price=missed_price, last_quantity=missed,
                                exec_id=f"{order.order.cl_ord_id}-recovered-{report.cum_quantity}",
                                ord_status=report.ord_status if report.ord_status in ("1", "2") else "1")
            order, fill = order.apply(synthetic), synthetic
        terminal = {"4": "4", "8": "8", "C": "4"}.get(report.ord_status)
        if terminal is not None and not order.is_done:
            order = order.apply(replace(report, exec_type=terminal, exec_id=f"{report.exec_id}-final"))
        return order, fill

    def on_tick(self) -> None:
        now = self._clock.now()
        for order in list(self.orders.values()):
            if order.state in LIVE_STATES:
                self._chase(order, now)

    def _chase(self, order: VenueOrder, now: datetime) -> None:
        sent = order.order
        if order.cancel_requested_at is None and now - sent.sent_at >= timedelta(seconds=self._timers.hard_timeout_s):
            self._send_cancel(CancelOrder(f"{sent.cl_ord_id}-cxl", sent.cl_ord_id, sent.symbol, sent.side,
                                          sent.quantity, now))
            self.orders[sent.cl_ord_id] = replace(order, cancel_requested_at=now, last_poll_at=now)
            log.info("venue_order_timeout_cancel", cl_ord_id=sent.cl_ord_id, rfq_id=order.rfq_id)
            return
        quiet_since = max(filter(None, (order.last_news_at, order.last_poll_at)), default=sent.sent_at)
        if now - quiet_since >= timedelta(seconds=self._timers.poll_interval_s):
            self._send_status_query(StatusQuery(sent.cl_ord_id, sent.symbol, sent.side))
            self.orders[sent.cl_ord_id] = replace(order, last_poll_at=now)

    def _finish(self, order: VenueOrder) -> None:
        if (order.state is OrderState.REJECTED and order.cum_quantity == 0 and order.attempt < MAX_ATTEMPTS
                and order.reject_reason not in FINAL_REJECT_REASONS):
            log.warning("venue_order_rejected_retrying", cl_ord_id=order.order.cl_ord_id, text=order.last_text)
            retry = BrokerRfq(rfq_id=order.rfq_id, quote_resp_id=order.quote_resp_id, symbol=order.order.symbol,
                              side=order.order.side, quantity=order.order.quantity, quoted_price=order.quoted_price,
                              margin_bps=Decimal(0))
            self.place(retry, order.order.limit_price, attempt=order.attempt + 1)
            return
        self._on_done(OrderOutcome(order.rfq_id, order.cum_quantity, order.average_price, order.nbbo_bid,
                                   order.nbbo_offer, self._outcome_text(order)))

    def _outcome_text(self, order: VenueOrder) -> str | None:
        """Why the order ended, in the broker's words: a cancel we sent at the timeout is not the
        requester's "cancel on request" (which is what the venue says of any cancel)."""
        if order.cancel_requested_at is not None and order.state is OrderState.CANCELED:
            return (f"venue order canceled by the broker after its {self._timers.hard_timeout_s:g} s order "
                    f"timeout; {order.cum_quantity} of {order.order.quantity} filled")
        return order.last_text

    def working_orders(self) -> list[VenueOrder]:
        return [order for order in self.orders.values() if order.state in LIVE_STATES]
