"""The broker checks its own balances: no quote its ledger position cannot deliver, and a second
check before it reports a fill."""
from __future__ import annotations

from decimal import Decimal

from broker.capacity import Capacity
from broker.messages import RfqOffered
from core.types import Side
from tests.unit.test_broker_solver import MemoryStore, venue, win
from tests.unit.test_broker_solver import make_rig as make_base_rig

D = Decimal


class QuoteKeepingStore(MemoryStore):
    """MemoryStore with the quote records the solver now persists before sending a quote."""

    def __init__(self):
        super().__init__()
        self.quotes = {}

    def save_quote(self, quote, at):
        self.quotes[quote.quote_id] = quote

    def load_quote(self, quote_id):
        return self.quotes.get(quote_id)


def make_rig():
    return make_base_rig(store=QuoteKeepingStore())


class Balances:
    def __init__(self, **held):
        self.held = {asset: (D(available), D(locked)) for asset, (available, locked) in held.items()}

    def balance_of(self, account, asset):
        assert account == "BROKER"
        return self.held.get(asset, (D(0), D(0)))


def test_quotes_only_sizes_its_ledger_position_can_deliver():
    balances = Balances(AAPL=("10", "0"), USDC=("1000", "0"))
    rig = make_rig()
    rig.solver.capacity = Capacity(balances, "BROKER")
    rig.solver.on_rfq(RfqOffered("rfq-1", "AAPL", Side.BUY, D(10), None))  # 10 shares held: quoted
    rig.solver.on_rfq(RfqOffered("rfq-2", "AAPL", Side.BUY, D(11), None))  # 11: declined
    rig.solver.on_rfq(RfqOffered("rfq-3", "AAPL", Side.SELL, D(5), None))  # ~1137 USDC with 1000: declined
    assert [q.quote_req_id for q in rig.sent["quotes"]] == ["rfq-1"]
    rig.solver.capacity = Capacity(balances, "BROKER", borrow_capacity_usdc=D(200))  # borrowing capacity counts
    rig.solver.on_rfq(RfqOffered("rfq-4", "AAPL", Side.SELL, D(5), None))
    assert [q.quote_req_id for q in rig.sent["quotes"]] == ["rfq-1", "rfq-4"]


def test_rechecks_before_reporting_a_fill_and_fails_it_when_it_cannot_deliver():
    balances = Balances(AAPL=("100", "0"))
    rig = make_rig()
    rig.solver.capacity = Capacity(balances, "BROKER")
    win(rig, Side.BUY, D(10))
    balances.held["AAPL"] = (D(3), D(0))  # the shares went elsewhere before the fill
    rig.solver.orders.on_report(venue("x1", "F", "2", D("227.40"), D(10), D(10)))
    [report] = rig.sent["reports"]
    assert not report.filled and "cannot deliver" in report.text


def test_a_fill_the_hold_covers_is_reported():
    balances = Balances(AAPL=("90", "10"))  # the gateway's hold of the acceptance is the broker's too
    rig = make_rig()
    rig.solver.capacity = Capacity(balances, "BROKER")
    win(rig, Side.BUY, D(10))
    rig.solver.orders.on_report(venue("x1", "F", "2", D("227.40"), D(10), D(10)))
    [report] = rig.sent["reports"]
    assert report.filled
