"""The in-house solver without sockets: quoting (feeds, gating, run-time margins),
the venue order's poll/cancel timers and bounded retry, custody paths and restart."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from broker.custody import SimulatedCustody
from broker.messages import QuoteWon, RfqOffered, VenueExecution
from broker.order_manager import OrderManager, OrderTimers
from broker.parameters import ParameterBook, QuotingParameters
from broker.solver import BrokerConfig, BrokerSolver
from broker.state import BrokerRfqState
from core.clock import FakeClock
from core.refusal import RejectReason
from core.types import Side

D = Decimal
REFERENCE = {"AAPL": (D("227.43"), D("227.44"))}


class FixedPrices:
    def __init__(self, prices):
        self.prices = prices

    def reference(self, symbol):
        return self.prices.get(symbol)


class MemoryStore:
    """Records what the connector persists; `open_rfqs`/`orders_of` replay it like SQL would."""

    def __init__(self):
        self.rfqs, self.orders, self.fills, self.events = {}, {}, [], []
        self.quotes = {}

    def save_quote(self, quote, at):
        self.quotes[quote.quote_id] = quote

    def load_quote(self, quote_id):
        return self.quotes.get(quote_id)

    def save_rfq(self, rfq, events=()):
        self.rfqs[rfq.rfq_ref] = rfq
        self.events += [e.event_type for e in events]

    def save_new_order(self, order, events=()):
        self.save_order(order, None, events)

    def save_order(self, order, fill=None, events=()):
        self.orders[order.order.cl_ord_id] = order
        if fill is not None:
            self.fills.append(fill.exec_id)

    def open_rfqs(self):
        return [r for r in self.rfqs.values() if not r.is_terminal]

    def orders_of(self, rfq_refs):
        return [o for o in self.orders.values() if o.rfq_ref in rfq_refs]

    def knows_acceptance(self, quote_resp_id):
        return any(r.quote_resp_id == quote_resp_id for r in self.rfqs.values())


@dataclass
class Rig:
    solver: BrokerSolver
    clock: FakeClock
    sent: dict
    store: MemoryStore


def make_rig(prices=None, trading=None, store=None, parameters=None, finished_kept=1_000) -> Rig:
    clock, store = FakeClock(), store or MemoryStore()
    sent = {"quotes": [], "orders": [], "reports": [], "polls": [], "cancels": []}
    # Custody and the order manager call the solver back, as in the connector.
    custody = SimulatedCustody(clock, 2.0, lambda rfq: solver.on_withdrawal_confirmed(rfq))
    orders = OrderManager(clock, OrderTimers(5.0, 30.0), sent["orders"].append, sent["polls"].append,
                          sent["cancels"].append, store, lambda outcome: solver.on_order_done(outcome),
                          finished_kept=finished_kept)
    solver = BrokerSolver(config=BrokerConfig(ticks={"AAPL": D("0.01")}),
                          prices=FixedPrices(REFERENCE if prices is None else prices), clock=clock,
                          send_quote=sent["quotes"].append, report_execution=sent["reports"].append,
                          store=store, custody=custody, orders=orders, parameters=parameters, trading=trading)
    return Rig(solver, clock, sent, store)


def venue(exec_id, exec_type, ord_status, last_px=None, last_qty=None, cum=D(0), avg=None, cl_ord_id="rfq-7-001"):
    return VenueExecution(cl_ord_id, exec_id, exec_type, ord_status, last_px, last_qty, cum, avg,
                          D("227.43"), D("227.44"), None, order_id="V1")


def win(rig: Rig, side=Side.BUY, quantity=D(10)):
    rig.solver.on_rfq(RfqOffered("rfq-7", "AAPL", side, quantity, None))
    quote = rig.sent["quotes"][-1]
    price = quote.ask if side is Side.BUY else quote.bid
    rig.solver.on_won(QuoteWon("acc-7", quote.quote_id, "AAPL", side, quantity, price))
    return quote


def test_declines_without_a_fresh_price_for_unknown_symbols_and_when_gated():
    rig = make_rig(prices={})
    rig.solver.on_rfq(RfqOffered("rfq-1", "AAPL", Side.BUY, D(10), None))
    rig.solver.on_rfq(RfqOffered("rfq-2", "ZZZZ", Side.BUY, D(10), None))

    class Closed:
        def check(self, symbol, quantity, at):
            return type("R", (), {"reason": RejectReason.EXCHANGE_CLOSED, "text": "closed"})()

    gated = make_rig(trading=Closed())
    gated.solver.on_rfq(RfqOffered("rfq-3", "AAPL", Side.BUY, D(10), None))
    assert rig.sent["quotes"] == [] and gated.sent["quotes"] == []


def test_margin_changes_at_run_time_per_market_session():
    book = ParameterBook(QuotingParameters(D(20), D(0)))
    rig = make_rig(parameters=book)
    rig.solver.on_rfq(RfqOffered("rfq-1", "AAPL", Side.BUY, D(10), None))
    book.replace({"": QuotingParameters(D(50), D(0))})  # no trading rules: the session key is ""
    rig.solver.on_rfq(RfqOffered("rfq-2", "AAPL", Side.BUY, D(10), None))
    assert [q.ask for q in rig.sent["quotes"]] == [D("227.89"), D("228.57")]  # 227.44 x 1.002, x 1.005


def test_acceptance_sends_one_day_limit_order_with_the_idempotent_cl_ord_id():
    rig = make_rig()
    quote = win(rig)
    [order] = rig.sent["orders"]
    assert (order.cl_ord_id, order.limit_price, order.time_in_force) == ("rfq-7-001", D("227.44"), "day")
    rig.solver.on_won(QuoteWon("acc-7", quote.quote_id, "AAPL", Side.BUY, D(10), quote.ask))
    assert len(rig.sent["orders"]) == 1  # a repeated acceptance never sends a second order
    assert rig.store.events == ["OrderSent"] and "rfq-7-001" in rig.store.orders  # persisted before sending


def test_a_silent_order_is_polled_every_5_s_and_cancelled_at_30_s_then_reported():
    rig = make_rig()
    win(rig)
    rig.solver.on_venue = rig.solver.orders.on_report
    rig.solver.orders.on_report(venue("x1", "0", "0"))
    rig.clock.advance(4.9)
    rig.solver.orders.on_tick()
    assert rig.sent["polls"] == []
    rig.clock.advance(0.1)
    rig.solver.orders.on_tick()
    assert [p.cl_ord_id for p in rig.sent["polls"]] == ["rfq-7-001"]
    rig.solver.orders.on_report(venue("x2", "F", "1", D("227.40"), D(4), D(4)))
    rig.clock.advance(25)
    rig.solver.orders.on_tick()
    [cancel] = rig.sent["cancels"]
    assert (cancel.orig_cl_ord_id, cancel.cancel_id) == ("rfq-7-001", "rfq-7-001-cxl")
    assert rig.sent["reports"] == []
    rig.solver.orders.on_report(venue("x3", "4", "4", cum=D(4)))
    [report] = rig.sent["reports"]
    assert (report.filled, report.last_quantity, report.last_price) == (True, D(4), D("227.8548"))
    assert rig.store.rfqs["rfq-7"].state is BrokerRfqState.FILLED and "rfq-7" not in rig.solver.rfqs
    assert rig.store.fills == ["x2"] and "MintStockTokens" in rig.store.events


def test_an_order_timeout_cancel_is_reported_as_the_brokers_timeout_not_a_cancel_on_request():
    rig = make_rig()
    win(rig)
    rig.solver.orders.on_report(venue("x1", "0", "0"))
    rig.clock.advance(30)
    rig.solver.orders.on_tick()
    assert rig.sent["cancels"]
    canceled = venue("x2", "4", "4")
    rig.solver.orders.on_report(type(canceled)(**{**canceled.__dict__, "text": "canceled on request"}))
    [report] = rig.sent["reports"]
    assert report.filled is False
    assert report.text == "venue order canceled by the broker after its 30 s order timeout; 0 of 10 filled"


def test_a_rejected_order_is_retried_with_the_next_cl_ord_id_then_given_up():
    rig = make_rig()
    win(rig)
    for attempt in (1, 2, 3):
        rig.solver.orders.on_report(venue(f"r{attempt}", "8", "8", cl_ord_id=f"rfq-7-00{attempt}"))
    assert [o.cl_ord_id for o in rig.sent["orders"]] == ["rfq-7-001", "rfq-7-002", "rfq-7-003"]
    [report] = rig.sent["reports"]
    assert report.filled is False
    assert rig.store.rfqs["rfq-7"].state is BrokerRfqState.FAILED and "rfq-7" not in rig.solver.rfqs


def test_a_sell_waits_in_withdrawing_token_until_custody_confirms():
    rig = make_rig()
    win(rig, side=Side.SELL)
    rig.solver.orders.on_report(venue("x1", "F", "2", D("227.50"), D(10), D(10)))
    assert rig.solver.rfqs["rfq-7"].state is BrokerRfqState.WITHDRAWING_TOKEN
    assert rig.sent["reports"] == [] and "WithdrawToken" in rig.store.events
    rig.clock.advance(2)
    rig.solver.custody.on_tick()
    [report] = rig.sent["reports"]
    assert report.last_price == D("227.0450")  # 227.50 x 0.998, better than the 226.98 quoted
    assert rig.store.events[-1] == "TokenWithdrawn" and rig.store.rfqs["rfq-7"].state is BrokerRfqState.FILLED


def test_restart_restores_orders_and_settles_a_fill_missed_while_down_once():
    store = MemoryStore()
    first = make_rig(store=store)
    win(first)
    first.solver.orders.on_report(venue("x1", "0", "0"))
    # The connector dies; the venue fills the order meanwhile. A new connector starts from the store.
    second = make_rig(store=store)
    second.solver.restore()
    assert [o.order.cl_ord_id for o in second.solver.orders.working_orders()] == ["rfq-7-001"]
    second.solver.orders.on_report(venue("ms1", "I", "2", cum=D(10), avg=D("227.41")))  # mass status answer
    [report] = second.sent["reports"]
    assert (report.last_quantity, report.last_price) == (D(10), D("227.8648"))
    assert second.sent["orders"] == []  # nothing was sent twice
    second.solver.orders.on_report(venue("ms2", "I", "2", cum=D(10), avg=D("227.41")))
    assert len(second.sent["reports"]) == 1
    assert store.fills == ["rfq-7-001-recovered-10"]
