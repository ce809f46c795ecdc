"""The in-house broker as a solver: quote from the venue's NBBO, execute at the
venue when accepted, report the fill for settlement.

Runs on the connector's own single thread; it owns its quotes and orders.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Protocol

import structlog

from broker import pricing
from broker.messages import ExecutionToReport, OrderToSend, QuoteToSend, QuoteWon, RfqOffered, VenueExecution
from broker.orders import UnexpectedReport, VenueOrder
from gateway.domain.events import DomainEvent, OrderSent
from gateway.domain.types import RfqId
from rfq_runtime.clock import Clock

log = structlog.get_logger(__name__)

MAX_TRACKED_QUOTES = 10_000  # bound memory: the oldest unanswered quotes are forgotten first


class PriceSource(Protocol):
    def reference(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """(bid, ask) reference prices, or None when no fresh price exists."""


@dataclass(frozen=True)
class BrokerConfig:
    ticks: dict[str, Decimal]
    margin_bps: Decimal = Decimal(20)
    aggression_bps: Decimal = Decimal(0)
    quote_validity_s: float = 30.0


@dataclass(frozen=True)
class ExecutionSummary:
    """One accepted RFQ as the broker saw it: for operators and the demo."""

    rfq_id: int
    symbol: str
    requester_side: str
    nbbo_bid: Decimal | None
    nbbo_offer: Decimal | None
    quoted_price: Decimal
    venue_average: Decimal | None
    settle_price: Decimal | None
    filled_quantity: Decimal
    ordered_quantity: Decimal


@dataclass
class _Sent:
    offer: RfqOffered
    quote: pricing.TwoSidedQuote


@dataclass
class BrokerSolver:
    config: BrokerConfig
    prices: PriceSource
    clock: Clock
    send_quote: Callable[[QuoteToSend], None]
    send_order: Callable[[OrderToSend], None]
    report_execution: Callable[[ExecutionToReport], None]
    record_event: Callable[[DomainEvent], None] = lambda event: None
    quotes: dict[str, _Sent] = field(default_factory=dict)
    orders: dict[str, VenueOrder] = field(default_factory=dict)
    executions: list[ExecutionSummary] = field(default_factory=list)

    def on_rfq(self, offer: RfqOffered) -> None:
        tick = self.config.ticks.get(offer.symbol)
        reference = self.prices.reference(offer.symbol) if tick is not None else None
        if reference is None:
            log.info("broker_declined", quote_req_id=offer.quote_req_id, symbol=offer.symbol, reason="no price")
            return
        quote = pricing.quote_from_reference(reference[0], reference[1], self.config.margin_bps,
                                             self.config.aggression_bps, tick)
        quote_id = f"bq-{offer.quote_req_id}"
        while len(self.quotes) >= MAX_TRACKED_QUOTES:
            self.quotes.pop(next(iter(self.quotes)))
        self.quotes[quote_id] = _Sent(offer, quote)
        valid_until = self.clock.now() + timedelta(seconds=self.config.quote_validity_s)
        self.send_quote(QuoteToSend(offer.quote_req_id, quote_id, offer.symbol, quote.bid, quote.ask,
                                    offer.quantity, valid_until))
        log.info("broker_quoted", quote_req_id=offer.quote_req_id, bid=str(quote.bid), ask=str(quote.ask))

    def on_won(self, won: QuoteWon) -> None:
        rfq_id = rfq_id_of(won.quote_resp_id)
        sent = self.quotes.pop(won.quote_id, None)
        if sent is None or rfq_id is None:
            log.error("broker_unknown_acceptance", quote_id=won.quote_id, quote_resp_id=won.quote_resp_id)
            self.report_execution(ExecutionToReport(won.quote_resp_id, f"{won.quote_resp_id}-rej", won.symbol,
                                                    won.side, False, None, None, "unknown quote"))
            return
        cl_ord_id = f"rfq-{rfq_id}-001"
        if cl_ord_id in self.orders:
            return  # the same acceptance twice: the order is already out, never send it again
        limit = pricing.venue_limit_price(won.side, won.price, self.config.margin_bps, self.config.ticks[won.symbol])
        order = OrderToSend(cl_ord_id, won.symbol, won.side, won.quantity, limit, self.clock.now())
        self.orders[cl_ord_id] = VenueOrder(order=order, quote_resp_id=won.quote_resp_id, quoted_price=won.price)
        self.record_event(OrderSent(rfq_id=rfq_id, occurred_at=order.sent_at, cl_ord_id=cl_ord_id,
                                    symbol=order.symbol, side=order.side.value, quantity=order.quantity,
                                    limit_price=limit))
        self.send_order(order)
        log.info("broker_order_sent", rfq_id=rfq_id, cl_ord_id=cl_ord_id, limit=str(limit))

    def on_venue_report(self, report: VenueExecution) -> None:
        order = self.orders.get(report.cl_ord_id)
        if order is None:
            log.warning("broker_unknown_order_report", cl_ord_id=report.cl_ord_id)
            return
        try:
            updated = order.apply(report)
        except UnexpectedReport as error:
            log.error("broker_unexpected_report", cl_ord_id=report.cl_ord_id, error=str(error))
            return
        self.orders[report.cl_ord_id] = updated
        if updated.is_done and not order.is_done:
            self._finish(updated)

    def _finish(self, order: VenueOrder) -> None:
        side = order.order.side
        average = order.average_price
        settle = None
        if order.cum_quantity > 0:
            settle = pricing.settle_price(side, order.quoted_price, average, self.config.margin_bps)
        report = ExecutionToReport(
            quote_resp_id=order.quote_resp_id, exec_id=f"{order.order.cl_ord_id}-exec", symbol=order.order.symbol,
            side=side, filled=order.cum_quantity > 0, last_price=settle,
            last_quantity=order.cum_quantity if order.cum_quantity > 0 else None,
            text=None if order.cum_quantity > 0 else (order.last_text or "venue did not fill the order"),
        )
        self.executions.append(ExecutionSummary(
            rfq_id=rfq_id_of(order.quote_resp_id) or 0, symbol=order.order.symbol, requester_side=side.value,
            nbbo_bid=order.nbbo_bid, nbbo_offer=order.nbbo_offer, quoted_price=order.quoted_price,
            venue_average=average, settle_price=settle, filled_quantity=order.cum_quantity,
            ordered_quantity=order.order.quantity,
        ))
        self.report_execution(report)
        log.info("broker_execution_reported", cl_ord_id=order.order.cl_ord_id, filled=str(order.cum_quantity),
                 settle_price=str(settle))


def rfq_id_of(quote_resp_id: str) -> RfqId | None:
    prefix, _, number = quote_resp_id.partition("-")
    return RfqId(int(number)) if prefix == "acc" and number.isdigit() else None
