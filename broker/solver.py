"""The in-house broker as a solver: quote from fresh reference prices, execute at the
venue when accepted, then custody (mint on buys, withdraw on sells) and the fill report.

Runs on the connector's own single thread; it owns its quotes, RFQs and orders. The gateway's
ids are opaque here: an RFQ is keyed by the QuoteReqID the gateway sent (see broker.refs)."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from broker import pricing, refs
from broker.capacity import Capacity
from broker.events import MintStockTokens, OrderSent, RfqUnsettled, TokenWithdrawn, WithdrawToken
from broker.messages import (
    ExecutionToReport,
    QuoteStatusNotice,
    QuoteToSend,
    QuoteWon,
    RfqOffered,
    SettlementAcknowledged,
)
from broker.order_manager import OrderManager, OrderOutcome
from broker.parameters import ParameterBook, QuotingParameters
from broker.ports import Custody, PriceSource, QuoteRecord, RfqStore, TradingGate
from broker.refs import RfqRef
from broker.state import BrokerRfq, BrokerRfqState, BrokerTrigger
from core.clock import Clock
from core.events import DomainEvent
from core.types import Side

log = structlog.get_logger(__name__)

MAX_TRACKED_QUOTES = 10_000  # quotes; bounds memory: beyond it the oldest unanswered quotes are forgotten first
# Seconds after a quote's ValidUntilTime before it is forgotten: an acceptance the gateway made in
# time can still be on its way (queues, a reconnect, clock skew between gateway and connector).
QUOTE_ACCEPTANCE_GRACE_S = 60.0
# RFQs won and not yet settled or failed; each holds a live venue order or a custody withdrawal.
# Beyond this the connector is not keeping up with the venue: it declines to quote rather than grow.
MAX_OPEN_RFQS = 10_000
RECENT_EXECUTIONS_KEPT = 1_000  # summaries; for operators and the demo only, SQL has every RFQ


@dataclass(frozen=True)
class BrokerConfig:
    ticks: Mapping[str, Decimal]
    margin_bps: Decimal = Decimal(20)
    aggression_bps: Decimal = Decimal(0)
    quote_validity_s: float = 30.0
    account: str = "BROKER"
    borrow_capacity_usdc: Decimal = Decimal(0)  # USDC the broker may owe beyond its balance (checked quotes)

    def __post_init__(self) -> None:
        bad_ticks = {symbol: str(tick) for symbol, tick in self.ticks.items() if not (tick.is_finite() and tick > 0)}
        if bad_ticks:
            raise ValueError(f"instrument ticks must be positive, got {bad_ticks}")
        QuotingParameters(self.margin_bps, self.aggression_bps)  # raises ValueError naming a bad one
        if not self.quote_validity_s > 0:
            raise ValueError(f"quote_validity_s must be a positive number of seconds, got {self.quote_validity_s}")
        if not self.account:
            raise ValueError("the broker's ledger account must be named")


@dataclass(frozen=True)
class ExecutionSummary:
    """One accepted RFQ as the broker saw it: for operators and the demo."""

    rfq_id: str  # the gateway's QuoteReqID, opaque (the field keeps its name for this summary's readers)
    symbol: str
    requester_side: str
    nbbo_bid: Decimal | None
    nbbo_offer: Decimal | None
    quoted_price: Decimal
    venue_average: Decimal | None
    settle_price: Decimal | None
    filled_quantity: Decimal
    ordered_quantity: Decimal


QUOTE_STATUS_EXPIRED = "7"  # QuoteStatus (297): on a quote we won, the gateway ended the RFQ unsettled


@dataclass(frozen=True)
class QuoteSent:
    offer: RfqOffered
    margin_bps: Decimal  # the margin this quote was made with; the venue limit and settle price remove it
    forget_at: datetime  # ValidUntilTime plus the grace: no acceptance can come after this

    @classmethod
    def from_record(cls, record: QuoteRecord) -> QuoteSent:
        offer = RfqOffered(record.quote_req_id, record.symbol, record.side, record.quantity, None)
        return cls(offer, record.margin_bps, record.valid_until + timedelta(seconds=QUOTE_ACCEPTANCE_GRACE_S))


class BrokerSolver:
    def __init__(self, *, config: BrokerConfig, prices: PriceSource, clock: Clock,
                 send_quote: Callable[[QuoteToSend], None], report_execution: Callable[[ExecutionToReport], None],
                 store: RfqStore, custody: Custody, orders: OrderManager, parameters: ParameterBook | None = None,
                 trading: TradingGate | None = None, gateway_ready: Callable[[], bool] = lambda: True,
                 capacity: Capacity | None = None) -> None:
        self.config, self.prices, self.clock = config, prices, clock
        self.send_quote, self.report_execution = send_quote, report_execution
        self.store, self.custody, self.orders = store, custody, orders
        self.parameters = parameters
        self.trading = trading  # the broker gates itself on market hours and limits too
        self.gateway_ready = gateway_ready  # is the gateway session logged on?
        self.capacity = capacity  # None: balances are not checked (the gateway's locks still are)
        self.quotes: dict[str, QuoteSent] = {}  # by our QuoteID, oldest first
        self.rfqs: dict[RfqRef, BrokerRfq] = {}  # open RFQs only: a finished one lives on in SQL
        self.executions: deque[ExecutionSummary] = deque(maxlen=RECENT_EXECUTIONS_KEPT)

    # -- quoting -------------------------------------------------------------------------
    def on_rfq(self, offer: RfqOffered) -> None:
        now = self.clock.now()
        self.forget_expired_quotes()
        tick = self.config.ticks.get(offer.symbol)
        reason = self._why_not_quote(offer, tick, now)
        reference = self.prices.reference(offer.symbol) if reason is None else None
        if tick is None or reference is None:
            log.debug("broker_declined", quote_req_id=offer.quote_req_id, symbol=offer.symbol,
                     reason=reason or "no fresh reference price")
            return
        parameters = self._parameters(now)
        quote = pricing.quote_from_reference(reference[0], reference[1], parameters.margin_bps,
                                             parameters.aggression_bps, tick)
        short = (self.capacity.why_not_quote(offer.side, offer.symbol, offer.quantity, quote.bid)
                 if self.capacity is not None else None)
        if short is not None:
            log.info("broker_declined", quote_req_id=offer.quote_req_id, symbol=offer.symbol, reason=short)
            return
        quote_id = refs.quote_id(offer.quote_req_id)
        valid_until = now + timedelta(seconds=self.config.quote_validity_s)
        self._remember(quote_id, QuoteSent(offer, parameters.margin_bps,
                                           valid_until + timedelta(seconds=QUOTE_ACCEPTANCE_GRACE_S)))
        # Committed before it is sent: an acceptance arriving after a restart finds the quote's terms.
        self.store.save_quote(QuoteRecord(quote_id, offer.quote_req_id, offer.symbol, offer.side, offer.quantity,
                                          quote.bid, quote.ask, parameters.margin_bps, valid_until), now)
        self.send_quote(QuoteToSend(offer.quote_req_id, quote_id, offer.symbol, quote.bid, quote.ask,
                                    offer.quantity, valid_until))
        log.debug("broker_quoted", quote_req_id=offer.quote_req_id, bid=str(quote.bid), ask=str(quote.ask),
                 margin_bps=str(parameters.margin_bps))

    def _why_not_quote(self, offer: RfqOffered, tick: Decimal | None, now: datetime) -> str | None:
        refusal = self.trading.check(offer.symbol, offer.quantity, now) if self.trading is not None else None
        if refusal is not None:
            return refusal.text
        if tick is None:
            return "unknown symbol"
        if len(offer.quote_req_id) > refs.MAX_RFQ_REF_LENGTH:
            return f"QuoteReqID longer than {refs.MAX_RFQ_REF_LENGTH} characters"
        if len(self.rfqs) >= MAX_OPEN_RFQS:
            return f"{len(self.rfqs)} RFQs still open"
        return None

    def _remember(self, quote_id: str, sent: QuoteSent) -> None:
        self.quotes.pop(quote_id, None)  # a re-quote moves to the back: the map stays in expiry order
        while len(self.quotes) >= MAX_TRACKED_QUOTES:
            self.quotes.pop(next(iter(self.quotes)))
        self.quotes[quote_id] = sent

    def forget_expired_quotes(self) -> None:
        """Drop quotes no acceptance can come for any more (oldest first, so stop at the first live one)."""
        now = self.clock.now()
        while self.quotes:
            quote_id, sent = next(iter(self.quotes.items()))
            if sent.forget_at > now:
                return
            del self.quotes[quote_id]

    def _parameters(self, now: datetime) -> QuotingParameters:
        default = QuotingParameters(self.config.margin_bps, self.config.aggression_bps)
        if self.parameters is None:
            return default
        session = self.trading.calendar.session_at(now) if self.trading is not None else None
        return self.parameters.for_session(session.value if session is not None else None)

    # -- acceptance and execution -----------------------------------------------------------
    def on_won(self, won: QuoteWon) -> None:
        quoted = self.quotes.pop(won.quote_id, None) or self._quote_from_store(won.quote_id)
        if quoted is None and self._already_won(won.quote_resp_id):
            log.info("broker_duplicate_acceptance", quote_id=won.quote_id, quote_resp_id=won.quote_resp_id)
            return  # the same acceptance twice: the order is already out, never send it again
        if quoted is None or (won.symbol, won.side) != (quoted.offer.symbol, quoted.offer.side):
            self._refuse_acceptance(won, "unknown quote" if quoted is None else "acceptance does not match the quote")
            return
        rfq_ref = RfqRef(quoted.offer.quote_req_id)
        if rfq_ref in self.rfqs:
            return  # won already under this QuoteReqID: never a second order
        now = self.clock.now()
        rfq = BrokerRfq(rfq_ref=rfq_ref, quote_resp_id=won.quote_resp_id, symbol=won.symbol, side=won.side,
                        quantity=won.quantity, quoted_price=won.price, margin_bps=quoted.margin_bps, updated_at=now,
                        settle_by=won.settle_by)
        if not self._time_for_an_order(rfq, now):
            self._fail(rfq, now, f"too close to the settlement deadline {won.settle_by} for a venue order")
            return
        limit = pricing.venue_limit_price(won.side, won.price, quoted.margin_bps, self.config.ticks[won.symbol])
        self._save(rfq, [OrderSent(rfq_ref=rfq_ref, occurred_at=now, cl_ord_id=refs.cl_ord_id(rfq_ref, 1),
                                   symbol=won.symbol, side=won.side.value, quantity=won.quantity, limit_price=limit)])
        self.orders.place(rfq, limit)

    def _quote_from_store(self, quote_id: str) -> QuoteSent | None:
        """A quote sent before a restart: its terms were committed before it was sent."""
        record = self.store.load_quote(quote_id)
        if record is None:
            return None
        sent = QuoteSent.from_record(record)
        return sent if sent.forget_at > self.clock.now() else None

    def _time_for_an_order(self, rfq: BrokerRfq, now: datetime) -> bool:
        """An order sent now can be done (filled or canceled at its timeout) before the gateway's deadline."""
        return rfq.settle_by is None or now + timedelta(seconds=self.orders.order_timeout_s) < rfq.settle_by

    def may_retry(self, rfq_ref: RfqRef) -> bool:
        """Another order for a rejected one: only while the gateway has not ended the RFQ and there is time."""
        rfq = self.rfqs.get(rfq_ref)
        return (rfq is not None and rfq.state is BrokerRfqState.ACCEPTED_BINDING
                and self._time_for_an_order(rfq, self.clock.now()))

    def _fail(self, rfq: BrokerRfq, now: datetime, text: str) -> None:
        failed = rfq.failed(now, text)
        self._save(failed)
        self.report_execution(ExecutionToReport(rfq.quote_resp_id, refs.settlement_exec_id(rfq.rfq_ref),
                                                rfq.symbol, rfq.side, False, None, None, failed.text))

    def _already_won(self, quote_resp_id: str) -> bool:
        """Open RFQs are in memory; a finished one is asked of SQL (only on this rare path)."""
        return (any(rfq.quote_resp_id == quote_resp_id for rfq in self.rfqs.values())
                or self.store.knows_acceptance(quote_resp_id))

    def _refuse_acceptance(self, won: QuoteWon, why: str) -> None:
        log.error("broker_unknown_acceptance", quote_id=won.quote_id, quote_resp_id=won.quote_resp_id, why=why)
        self.report_execution(ExecutionToReport(won.quote_resp_id, f"{won.quote_resp_id}-rej", won.symbol,
                                                won.side, False, None, None, why))

    def on_order_done(self, outcome: OrderOutcome) -> None:
        rfq = self.rfqs.get(outcome.rfq_ref)
        if rfq is None or rfq.state not in (BrokerRfqState.ACCEPTED_BINDING, BrokerRfqState.ABANDONED):
            log.warning("broker_order_outcome_ignored", rfq_ref=outcome.rfq_ref,
                        state=None if rfq is None else rfq.state.value)
            return
        now = self.clock.now()
        traded = outcome.traded
        if traded is None:
            self._summarise(rfq, outcome, None)
            if rfq.state is BrokerRfqState.ABANDONED:
                self._save(rfq.failed(now, "the gateway ended the RFQ; the venue order traded nothing"))
                return
            self._fail(rfq, now, outcome.text or "venue did not fill")
            return
        settle = pricing.settle_price(rfq.side, rfq.quoted_price, traded.average_price, rfq.margin_bps)
        self._summarise(rfq, outcome, settle)
        executed = rfq.executed(now, traded.quantity, traded.average_price, settle,
                                (outcome.nbbo_bid, outcome.nbbo_offer))
        if executed.state is BrokerRfqState.UNSETTLED:
            self._unsettled(executed, "the venue traded after the gateway had ended the RFQ")
            return
        if rfq.side is Side.BUY:
            mint = MintStockTokens(rfq_ref=rfq.rfq_ref, occurred_at=now, symbol=rfq.symbol,
                                   quantity=traded.quantity, account=self.config.account)
            self._save(executed, [mint])
            self.custody.mint(mint)  # concurrent with settlement: the report does not wait for it
            self._report(executed)
            return
        withdraw = WithdrawToken(rfq_ref=rfq.rfq_ref, occurred_at=now, symbol=rfq.symbol,
                                 quantity=traded.quantity, account=self.config.account)
        self._save(executed, [withdraw])
        self.custody.withdraw(withdraw)

    def on_withdrawal_confirmed(self, rfq_ref: RfqRef) -> None:
        rfq = self.rfqs.get(rfq_ref)
        if rfq is None or rfq.state is not BrokerRfqState.WITHDRAWING_TOKEN:
            log.warning("broker_withdrawal_ignored", rfq_ref=rfq_ref)
            return
        now = self.clock.now()
        ready = rfq.apply(BrokerTrigger.WITHDRAWAL_CONFIRMED, now)
        self._save(ready, [TokenWithdrawn(rfq_ref=rfq_ref, occurred_at=now, symbol=rfq.symbol,
                                          quantity=rfq.filled_quantity)])
        self._report(ready)

    def _report(self, rfq: BrokerRfq) -> None:
        """SettleQuote: the fill ExecutionReport, with settle price and quantity, then Filled.

        While the gateway session is down the RFQ waits in ReadyToSettle: a report sent
        then would be dropped by the session reset at logon. `report_pending` retries."""
        if not self.gateway_ready():
            log.info("broker_report_waiting_for_gateway", rfq_ref=rfq.rfq_ref)
            return
        assert rfq.settle_price is not None, f"{rfq.rfq_ref} is ready to settle without a settle price"
        short = (self.capacity.why_not_report(rfq.side, rfq.symbol, rfq.filled_quantity, rfq.settle_price)
                 if self.capacity is not None else None)
        if short is not None:
            text = f"broker cannot deliver: {short}"
            self._unsettled(rfq.apply(BrokerTrigger.CANNOT_DELIVER, self.clock.now()), text)
            self.report_execution(ExecutionToReport(rfq.quote_resp_id, refs.settlement_exec_id(rfq.rfq_ref),
                                                    rfq.symbol, rfq.side, False, None, None, text))
            return
        # Saved before it is sent: after a crash the report goes again, under the same ExecID.
        self._save(rfq.apply(BrokerTrigger.REPORTED, self.clock.now()))
        self.report_execution(ExecutionToReport(rfq.quote_resp_id, refs.settlement_exec_id(rfq.rfq_ref), rfq.symbol,
                                                rfq.side, True, rfq.settle_price, rfq.filled_quantity, None,
                                                nbbo_bid=rfq.nbbo_bid, nbbo_offer=rfq.nbbo_offer))
        log.debug("broker_execution_reported", rfq_ref=rfq.rfq_ref, filled=str(rfq.filled_quantity),
                 settle_price=str(rfq.settle_price))

    def report_pending(self) -> None:
        """Report every fill ready or reported but not acknowledged (after a gateway reconnect)."""
        for rfq in list(self.rfqs.values()):
            if rfq.state in (BrokerRfqState.READY_TO_SETTLE, BrokerRfqState.REPORTED):
                self._report(rfq)

    def on_settlement_ack(self, ack: SettlementAcknowledged) -> None:
        """The gateway's answer to a fill report: only now is the RFQ settled -- or known not to be."""
        rfq = self.rfqs.get(RfqRef(ack.exec_id.removesuffix(refs.SETTLEMENT_EXEC_SUFFIX)))
        if rfq is None or rfq.state is not BrokerRfqState.REPORTED:
            log.debug("broker_ack_ignored", exec_id=ack.exec_id, accepted=ack.accepted)
            return
        if ack.accepted:
            self._save(rfq.apply(BrokerTrigger.ACKNOWLEDGED, self.clock.now()))
            log.debug("broker_settled", rfq_ref=rfq.rfq_ref)
            return
        refused = rfq.apply(BrokerTrigger.SETTLEMENT_REFUSED, self.clock.now())
        self._unsettled(refused, f"the gateway refused the fill report: {ack.text}")

    def on_quote_status(self, notice: QuoteStatusNotice) -> None:
        """The gateway ended an RFQ we won before our report (its deadline passed): no more orders for it."""
        rfq = self.rfqs.get(RfqRef(notice.quote_req_id))
        if notice.status != QUOTE_STATUS_EXPIRED or rfq is None or rfq.state is not BrokerRfqState.ACCEPTED_BINDING:
            return
        abandoned = rfq.apply(BrokerTrigger.GATEWAY_ENDED, self.clock.now())
        self._save(abandoned)
        canceled = self.orders.abandon(rfq.rfq_ref)
        log.warning("broker_rfq_ended_by_gateway", rfq_ref=rfq.rfq_ref, text=notice.text, orders_canceled=canceled)

    def _unsettled(self, rfq: BrokerRfq, text: str) -> None:
        """Shares traded at the venue that the gateway did not settle: a break operations must resolve."""
        unsettled = replace(rfq, text=text)
        self._save(unsettled, [RfqUnsettled(rfq_ref=rfq.rfq_ref, occurred_at=self.clock.now(), symbol=rfq.symbol,
                                            side=rfq.side.value, quantity=rfq.filled_quantity, text=text)])
        log.error("broker_rfq_unsettled", rfq_ref=rfq.rfq_ref, text=text, quantity=str(rfq.filled_quantity))

    def _save(self, rfq: BrokerRfq, events: Sequence[DomainEvent] = ()) -> None:
        self.store.save_rfq(rfq, events)
        if rfq.is_terminal:
            self.rfqs.pop(rfq.rfq_ref, None)  # nothing more can happen to it: only SQL keeps it
        else:
            self.rfqs[rfq.rfq_ref] = rfq

    def _summarise(self, rfq: BrokerRfq, outcome: OrderOutcome, settle: Decimal | None) -> None:
        self.executions.append(ExecutionSummary(
            rfq_id=rfq.rfq_ref, symbol=rfq.symbol, requester_side=rfq.side.value, nbbo_bid=outcome.nbbo_bid,
            nbbo_offer=outcome.nbbo_offer, quoted_price=rfq.quoted_price,
            venue_average=None if outcome.traded is None else outcome.traded.average_price,
            settle_price=settle, filled_quantity=outcome.filled_quantity, ordered_quantity=rfq.quantity))

    # -- restart ---------------------------------------------------------------------------
    def restore(self) -> None:
        """Reload open RFQs and their orders from SQL; finish what a crash interrupted."""
        open_rfqs = self.store.open_rfqs()
        self.rfqs.update({rfq.rfq_ref: rfq for rfq in open_rfqs})
        self.orders.restore(self.store.orders_of([rfq.rfq_ref for rfq in open_rfqs]))
        for rfq in open_rfqs:
            if rfq.state in (BrokerRfqState.READY_TO_SETTLE, BrokerRfqState.REPORTED):
                self._report(rfq)  # same ExecID: the gateway settles it at most once and acknowledges again
            elif rfq.state is BrokerRfqState.ABANDONED:
                self.orders.abandon(rfq.rfq_ref)
            elif rfq.state is BrokerRfqState.WITHDRAWING_TOKEN:
                self.custody.withdraw(WithdrawToken(rfq_ref=rfq.rfq_ref, occurred_at=self.clock.now(),
                                                    symbol=rfq.symbol, quantity=rfq.filled_quantity,
                                                    account=self.config.account))
        log.info("broker_restored", open_rfqs=len(open_rfqs), working_orders=len(self.orders.working_orders()))
