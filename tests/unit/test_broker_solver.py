"""The in-house solver's decisions, without sockets: quote, order, fill report."""
from decimal import Decimal

from broker.messages import QuoteWon, RfqOffered, VenueExecution
from broker.solver import BrokerConfig, BrokerSolver
from gateway.domain.types import Side
from rfq_runtime.clock import FakeClock


class FixedPrices:
    def __init__(self, prices):
        self.prices = prices

    def reference(self, symbol):
        return self.prices.get(symbol)


def make_solver(prices=None):
    if prices is None:
        prices = {"AAPL": (Decimal("227.43"), Decimal("227.44"))}
    sent = {"quotes": [], "orders": [], "reports": [], "events": []}
    solver = BrokerSolver(
        config=BrokerConfig(ticks={"AAPL": Decimal("0.01")}), prices=FixedPrices(prices), clock=FakeClock(),
        send_quote=sent["quotes"].append, send_order=sent["orders"].append,
        report_execution=sent["reports"].append, record_event=sent["events"].append)
    return solver, sent


def venue_report(exec_id, exec_type, ord_status, last_px=None, last_qty=None, cum=Decimal(0)):
    return VenueExecution("rfq-7-001", exec_id, exec_type, ord_status, last_px, last_qty, cum, None,
                          Decimal("227.43"), Decimal("227.44"), None)


def won(solver, sent):
    solver.on_rfq(RfqOffered("rfq-7", "AAPL", Side.BUY, Decimal(10), None))
    quote = sent["quotes"][0]
    solver.on_won(QuoteWon("acc-7", quote.quote_id, "AAPL", Side.BUY, Decimal(10), quote.ask))
    return quote


def test_declines_without_a_price_and_for_unknown_symbols():
    solver, sent = make_solver(prices={})
    solver.on_rfq(RfqOffered("rfq-1", "AAPL", Side.BUY, Decimal(10), None))
    solver.on_rfq(RfqOffered("rfq-2", "ZZZZ", Side.BUY, Decimal(10), None))
    assert sent["quotes"] == []


def test_acceptance_sends_one_limit_order_with_the_idempotent_cl_ord_id():
    solver, sent = make_solver()
    quote = won(solver, sent)
    assert quote.ask == Decimal("227.89")
    [order] = sent["orders"]
    assert (order.cl_ord_id, order.side, order.quantity, order.limit_price) == (
        "rfq-7-001", Side.BUY, Decimal(10), Decimal("227.44"))
    solver.on_won(QuoteWon("acc-7", quote.quote_id, "AAPL", Side.BUY, Decimal(10), quote.ask))
    assert len(sent["orders"]) == 1  # a repeated acceptance never sends a second order
    assert [event.event_type for event in sent["events"]] == ["OrderSent"]


def test_partial_venue_fill_is_reported_once_with_the_filled_quantity():
    solver, sent = make_solver()
    won(solver, sent)
    solver.on_venue_report(venue_report("x1", "0", "0"))
    solver.on_venue_report(venue_report("x2", "F", "1", Decimal("227.40"), Decimal(4), Decimal(4)))
    solver.on_venue_report(venue_report("x2", "F", "1", Decimal("227.40"), Decimal(4), Decimal(4)))  # resent
    assert sent["reports"] == []
    solver.on_venue_report(venue_report("x3", "4", "4", cum=Decimal(4)))
    [report] = sent["reports"]
    assert (report.filled, report.last_quantity, report.quote_resp_id) == (True, Decimal(4), "acc-7")
    assert report.last_price == Decimal("227.8548")  # 227.40 x 1.002, improvement passed through


def test_an_unfilled_order_reports_failure():
    solver, sent = make_solver()
    won(solver, sent)
    solver.on_venue_report(venue_report("x1", "8", "8"))
    [report] = sent["reports"]
    assert report.filled is False and report.last_quantity is None
