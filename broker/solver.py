"""The in-house broker as a solver: quote from fresh reference prices, execute at the
venue when accepted, then custody (mint on buys, withdraw on sells) and the fill report.

Runs on the connector's own single thread; it owns its quotes, RFQs and orders."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Protocol

import structlog

from broker import pricing
from broker.custody import MintStockTokens, TokenWithdrawn, WithdrawToken
from broker.events import OrderSent
from broker.messages import ExecutionToReport, QuoteToSend, QuoteWon, RfqOffered
from broker.order_manager import OrderManager, OrderOutcome
from broker.parameters import ParameterBook, QuotingParameters
from broker.state import BrokerRfq, BrokerRfqState, BrokerTrigger
from core.clock import Clock
from core.types import RfqId, Side

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
    account: str = "BROKER"


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
    margin_bps: Decimal


@dataclass
class BrokerSolver:
    config: BrokerConfig
    prices: PriceSource
    clock: Clock
    send_quote: Callable[[QuoteToSend], None]
    report_execution: Callable[[ExecutionToReport], None]
    store: object  # broker.store.BrokerStore
    custody: object  # broker.custody.SimulatedCustody (or the real service's client)
    orders: OrderManager | None = None  # set by the connector (it needs the solver's callbacks)
    parameters: ParameterBook | None = None
    trading: object | None = None  # gateway.rules.market_hours.TradingRules: the broker gates itself too
    gateway_ready: Callable[[], bool] = lambda: True  # is the gateway session logged on?
    quotes: dict[str, _Sent] = field(default_factory=dict)
    rfqs: dict[int, BrokerRfq] = field(default_factory=dict)
    executions: list[ExecutionSummary] = field(default_factory=list)

    # -- quoting -------------------------------------------------------------------------
    def on_rfq(self, offer: RfqOffered) -> None:
        tick = self.config.ticks.get(offer.symbol)
        refusal = self.trading.check(offer.symbol, offer.quantity, self.clock.now()) if self.trading else None
        reference = self.prices.reference(offer.symbol) if tick is not None and refusal is None else None
        if reference is None:
            reason = refusal.text if refusal else ("unknown symbol" if tick is None else "no fresh reference price")
            log.info("broker_declined", quote_req_id=offer.quote_req_id, symbol=offer.symbol, reason=reason)
            return
        parameters = self._parameters()
        quote = pricing.quote_from_reference(reference[0], reference[1], parameters.margin_bps,
                                             parameters.aggression_bps, tick)
        quote_id = f"bq-{offer.quote_req_id}"
        while len(self.quotes) >= MAX_TRACKED_QUOTES:
            self.quotes.pop(next(iter(self.quotes)))
        self.quotes[quote_id] = _Sent(offer, quote, parameters.margin_bps)
        valid_until = self.clock.now() + timedelta(seconds=self.config.quote_validity_s)
        self.send_quote(QuoteToSend(offer.quote_req_id, quote_id, offer.symbol, quote.bid, quote.ask,
                                    offer.quantity, valid_until))
        log.info("broker_quoted", quote_req_id=offer.quote_req_id, bid=str(quote.bid), ask=str(quote.ask),
                 margin_bps=str(parameters.margin_bps))

    def _parameters(self) -> QuotingParameters:
        default = QuotingParameters(self.config.margin_bps, self.config.aggression_bps)
        if self.parameters is None:
            return default
        session = self.trading.calendar.session_at(self.clock.now()) if self.trading else None
        return self.parameters.for_session(session.value if session else None)

    # -- acceptance and execution -----------------------------------------------------------
    def on_won(self, won: QuoteWon) -> None:
        rfq_id = rfq_id_of(won.quote_resp_id)
        sent = self.quotes.pop(won.quote_id, None)
        if rfq_id is not None and rfq_id in self.rfqs:
            return  # the same acceptance twice: the order is already out, never send it again
        if sent is None or rfq_id is None:
            log.error("broker_unknown_acceptance", quote_id=won.quote_id, quote_resp_id=won.quote_resp_id)
            self.report_execution(ExecutionToReport(won.quote_resp_id, f"{won.quote_resp_id}-rej", won.symbol,
                                                    won.side, False, None, None, "unknown quote"))
            return
        now = self.clock.now()
        rfq = BrokerRfq(rfq_id=rfq_id, quote_resp_id=won.quote_resp_id, symbol=won.symbol, side=won.side,
                        quantity=won.quantity, quoted_price=won.price, margin_bps=sent.margin_bps, updated_at=now)
        limit = pricing.venue_limit_price(won.side, won.price, sent.margin_bps, self.config.ticks[won.symbol])
        self.rfqs[rfq_id] = rfq
        self.store.save_rfq(rfq, [OrderSent(rfq_id=rfq_id, occurred_at=now, cl_ord_id=f"rfq-{rfq_id}-001",
                                            symbol=won.symbol, side=won.side.value, quantity=won.quantity,
                                            limit_price=limit)])
        self.orders.place(rfq, limit)

    def on_order_done(self, outcome: OrderOutcome) -> None:
        rfq = self.rfqs.get(outcome.rfq_id)
        if rfq is None or rfq.state is not BrokerRfqState.ACCEPTED_BINDING:
            return
        now = self.clock.now()
        self._summarise(rfq, outcome)
        if outcome.filled_quantity == 0:
            failed = rfq.apply(BrokerTrigger.NOTHING_FILLED, now, text=outcome.text or "venue did not fill")
            self._save(failed)
            self.report_execution(ExecutionToReport(rfq.quote_resp_id, f"rfq-{rfq.rfq_id}-exec", rfq.symbol,
                                                    rfq.side, False, None, None, failed.text))
            return
        settle = pricing.settle_price(rfq.side, rfq.quoted_price, outcome.venue_average, rfq.margin_bps)
        changes = dict(filled_quantity=outcome.filled_quantity, venue_average=outcome.venue_average,
                       settle_price=settle)
        if rfq.side is Side.BUY:
            ready = rfq.apply(BrokerTrigger.EXECUTED_BUY, now, **changes)
            mint = MintStockTokens(rfq_id=rfq.rfq_id, occurred_at=now, symbol=rfq.symbol,
                                   quantity=outcome.filled_quantity, account=self.config.account)
            self._save(ready, [mint])
            self.custody.mint(mint)  # concurrent with settlement: the report does not wait for it
            self._report(ready)
            return
        withdrawing = rfq.apply(BrokerTrigger.EXECUTED_SELL, now, **changes)
        withdraw = WithdrawToken(rfq_id=rfq.rfq_id, occurred_at=now, symbol=rfq.symbol,
                                 quantity=outcome.filled_quantity, account=self.config.account)
        self._save(withdrawing, [withdraw])
        self.custody.withdraw(withdraw)

    def on_withdrawal_confirmed(self, rfq_id: int) -> None:
        rfq = self.rfqs.get(rfq_id)
        if rfq is None or rfq.state is not BrokerRfqState.WITHDRAWING_TOKEN:
            return
        now = self.clock.now()
        ready = rfq.apply(BrokerTrigger.WITHDRAWAL_CONFIRMED, now)
        self._save(ready, [TokenWithdrawn(rfq_id=rfq_id, occurred_at=now, symbol=rfq.symbol,
                                          quantity=rfq.filled_quantity)])
        self._report(ready)

    def _report(self, rfq: BrokerRfq) -> None:
        """SettleQuote: the fill ExecutionReport, with settle price and quantity, then Filled.

        While the gateway session is down the RFQ waits in ReadyToSettle: a report sent
        then would be dropped by the session reset at logon. `report_pending` retries."""
        if not self.gateway_ready():
            log.info("broker_report_waiting_for_gateway", rfq_id=rfq.rfq_id)
            return
        self.report_execution(ExecutionToReport(rfq.quote_resp_id, f"rfq-{rfq.rfq_id}-exec", rfq.symbol, rfq.side,
                                                True, rfq.settle_price, rfq.filled_quantity, None))
        self._save(rfq.apply(BrokerTrigger.REPORTED, self.clock.now()))
        log.info("broker_execution_reported", rfq_id=rfq.rfq_id, filled=str(rfq.filled_quantity),
                 settle_price=str(rfq.settle_price))

    def report_pending(self) -> None:
        """Report every fill that is ready but not yet reported (after a gateway reconnect)."""
        for rfq in list(self.rfqs.values()):
            if rfq.state is BrokerRfqState.READY_TO_SETTLE:
                self._report(rfq)

    def _save(self, rfq: BrokerRfq, events=()) -> None:
        self.store.save_rfq(rfq, list(events))
        self.rfqs[rfq.rfq_id] = rfq

    def _summarise(self, rfq: BrokerRfq, outcome: OrderOutcome) -> None:
        settle = (pricing.settle_price(rfq.side, rfq.quoted_price, outcome.venue_average, rfq.margin_bps)
                  if outcome.filled_quantity else None)
        self.executions.append(ExecutionSummary(
            rfq_id=rfq.rfq_id, symbol=rfq.symbol, requester_side=rfq.side.value, nbbo_bid=outcome.nbbo_bid,
            nbbo_offer=outcome.nbbo_offer, quoted_price=rfq.quoted_price, venue_average=outcome.venue_average,
            settle_price=settle, filled_quantity=outcome.filled_quantity, ordered_quantity=rfq.quantity))

    # -- restart ---------------------------------------------------------------------------
    def restore(self) -> None:
        """Reload open RFQs and their orders from SQL; finish what a crash interrupted."""
        open_rfqs = self.store.open_rfqs()
        self.rfqs.update({rfq.rfq_id: rfq for rfq in open_rfqs})
        self.orders.restore(self.store.orders_of([rfq.rfq_id for rfq in open_rfqs]))
        for rfq in open_rfqs:
            if rfq.state is BrokerRfqState.READY_TO_SETTLE:
                self._report(rfq)  # the gateway refuses a second report, so at most one settlement
            elif rfq.state is BrokerRfqState.WITHDRAWING_TOKEN:
                self.custody.withdraw(WithdrawToken(rfq_id=rfq.rfq_id, occurred_at=self.clock.now(),
                                                    symbol=rfq.symbol, quantity=rfq.filled_quantity,
                                                    account=self.config.account))
        log.info("broker_restored", open_rfqs=len(open_rfqs), working_orders=len(self.orders.working_orders()))


def rfq_id_of(quote_resp_id: str) -> RfqId | None:
    prefix, _, number = quote_resp_id.partition("-")
    return RfqId(int(number)) if prefix == "acc" and number.isdigit() else None
