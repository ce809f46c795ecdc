"""The broker treats the gateway's ids as opaque, keeps bounded memory (finished orders and RFQs
leave it, quotes expire and are capped) and moves its state machines through core's tables.
Time only moves by hand here: nothing waits on a real clock."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from broker import custody as custody_module
from broker import solver as solver_module
from broker.custody import CustodyQueueFull, SimulatedCustody
from broker.events import OrderSent, WithdrawToken
from broker.messages import ExecType, OrdStatus, QuoteWon, RfqOffered
from broker.order_manager import OrderTimers
from broker.orders import InvalidVenueReport, OrderState, PlacedOrder
from broker.refs import RfqRef
from broker.solver import QUOTE_ACCEPTANCE_GRACE_S, BrokerConfig
from broker.state import BrokerRfqState, BrokerTrigger
from core.clock import FakeClock
from core.state_machine import InvalidTransition
from core.types import Side
from tests.unit.test_broker_solver import MemoryStore, acknowledge, make_rig, venue

D = Decimal


def quote_and_win(rig, quote_req_id: str, quote_resp_id: str, side=Side.BUY, quantity=D(10)):
    rig.solver.on_rfq(RfqOffered(quote_req_id, "AAPL", side, quantity, None))
    quote = rig.sent["quotes"][-1]
    price = quote.ask if side is Side.BUY else quote.bid
    rig.solver.on_won(QuoteWon(quote_resp_id, quote.quote_id, "AAPL", side, quantity, price))
    return quote


def fill_completely(rig, cl_ord_id: str, exec_id: str, quantity=D(10)):
    rig.solver.orders.on_report(venue(exec_id, ExecType.TRADE, OrdStatus.FILLED, D("227.40"), quantity, quantity,
                                      cl_ord_id=cl_ord_id))
    acknowledge(rig)


def test_the_gateways_ids_are_opaque_the_venue_ids_append_to_the_quote_req_id():
    rig = make_rig()
    quote = quote_and_win(rig, "gw:RFQ/abc.9", "any acceptance id")
    assert quote.quote_id == "bq-gw:RFQ/abc.9"
    [order] = rig.sent["orders"]
    assert order.cl_ord_id == "gw:RFQ/abc.9-001"
    fill_completely(rig, "gw:RFQ/abc.9-001", "x1")
    [report] = rig.sent["reports"]
    assert (report.quote_resp_id, report.exec_id, report.filled) == ("any acceptance id", "gw:RFQ/abc.9-exec", True)


def test_a_quote_req_id_too_long_for_our_cl_ord_ids_is_declined():
    rig = make_rig()
    rig.solver.on_rfq(RfqOffered("r" * 61, "AAPL", Side.BUY, D(10), None))
    assert rig.sent["quotes"] == []


def test_events_keep_their_payload_keys_with_the_opaque_reference():
    event = OrderSent(rfq_ref=RfqRef("rfq-7"), occurred_at=FakeClock().now(), cl_ord_id="rfq-7-001",
                      symbol="AAPL", side="buy", quantity=D(10), limit_price=D("227.44"))
    assert event.rfq_id is None  # the outbox's integer column: the broker never learns the gateway's number
    assert event.event_type == "OrderSent"
    assert set(event.payload()) == {"rfq_id", "occurred_at", "cl_ord_id", "symbol", "side", "quantity",
                                    "limit_price"}
    assert event.payload()["rfq_id"] == "rfq-7"


def test_finished_rfqs_leave_memory_and_finished_orders_beyond_the_limit_too():
    rig = make_rig(finished_kept=1)
    quote_and_win(rig, "rfq-1", "acc-1")
    assert set(rig.solver.rfqs) == {"rfq-1"} and set(rig.solver.orders.orders) == {"rfq-1-001"}
    fill_completely(rig, "rfq-1-001", "x1")
    assert rig.solver.rfqs == {}  # settled: only the store keeps it
    assert rig.store.rfqs["rfq-1"].state is BrokerRfqState.FILLED
    assert set(rig.solver.orders.orders) == {"rfq-1-001"}  # kept for late duplicates, within the limit
    quote_and_win(rig, "rfq-2", "acc-2")
    fill_completely(rig, "rfq-2-001", "x2")
    assert rig.solver.rfqs == {} and set(rig.solver.orders.orders) == {"rfq-2-001"}
    assert len(rig.sent["reports"]) == 2


def test_a_late_duplicate_report_for_a_forgotten_order_is_ignored():
    rig = make_rig(finished_kept=0)
    quote_and_win(rig, "rfq-1", "acc-1")
    fill_completely(rig, "rfq-1-001", "x1")
    assert rig.solver.orders.orders == {}
    stored = rig.store.orders["rfq-1-001"]
    fill_completely(rig, "rfq-1-001", "x1")  # the venue resends its fill
    rig.solver.orders.on_report(venue("s1", ExecType.ORDER_STATUS, OrdStatus.FILLED, cum=D(10), avg=D("227.40"),
                                      cl_ord_id="rfq-1-001"))  # a poll answer crossing the fill
    assert rig.store.orders["rfq-1-001"] is stored and rig.store.fills == ["x1"]
    assert len(rig.sent["reports"]) == 1 and len(rig.sent["orders"]) == 1


def test_a_repeated_acceptance_after_the_rfq_left_memory_sends_nothing():
    rig = make_rig()
    quote = quote_and_win(rig, "rfq-1", "acc-1")
    fill_completely(rig, "rfq-1-001", "x1")
    assert rig.solver.rfqs == {}
    rig.solver.on_won(QuoteWon("acc-1", quote.quote_id, "AAPL", Side.BUY, D(10), quote.ask))
    assert len(rig.sent["orders"]) == 1 and len(rig.sent["reports"]) == 1  # no order, no "unknown quote"


def test_an_acceptance_for_an_unknown_quote_or_another_instrument_is_refused():
    rig = make_rig()
    rig.solver.on_won(QuoteWon("acc-9", "bq-never-sent", "AAPL", Side.BUY, D(10), D("227.89")))
    rig.solver.on_rfq(RfqOffered("rfq-1", "AAPL", Side.BUY, D(10), None))
    quote = rig.sent["quotes"][-1]
    rig.solver.on_won(QuoteWon("acc-1", quote.quote_id, "AAPL", Side.SELL, D(10), quote.bid))
    assert [r.text for r in rig.sent["reports"]] == ["unknown quote", "acceptance does not match the quote"]
    assert rig.sent["orders"] == [] and rig.solver.rfqs == {}


def test_quotes_expire_after_their_validity_and_the_grace():
    rig = make_rig()
    for number in range(3):
        rig.solver.on_rfq(RfqOffered(f"rfq-{number}", "AAPL", Side.BUY, D(10), None))
    assert len(rig.solver.quotes) == 3
    rig.clock.advance(30 + QUOTE_ACCEPTANCE_GRACE_S - 1)
    rig.solver.forget_expired_quotes()
    assert len(rig.solver.quotes) == 3  # an acceptance can still be on its way
    rig.clock.advance(1)
    rig.solver.forget_expired_quotes()
    assert rig.solver.quotes == {}


def test_quotes_are_capped_oldest_forgotten_first_and_a_won_quote_is_dropped(monkeypatch):
    monkeypatch.setattr(solver_module, "MAX_TRACKED_QUOTES", 3)
    rig = make_rig()
    for number in range(5):
        rig.solver.on_rfq(RfqOffered(f"rfq-{number}", "AAPL", Side.BUY, D(10), None))
    assert list(rig.solver.quotes) == ["bq-rfq-2", "bq-rfq-3", "bq-rfq-4"]
    quote = rig.sent["quotes"][-1]
    rig.solver.on_won(QuoteWon("acc-4", quote.quote_id, "AAPL", Side.BUY, D(10), quote.ask))
    assert list(rig.solver.quotes) == ["bq-rfq-2", "bq-rfq-3"]


def test_no_quotes_while_the_open_rfq_limit_is_reached(monkeypatch):
    monkeypatch.setattr(solver_module, "MAX_OPEN_RFQS", 1)
    rig = make_rig()
    quote_and_win(rig, "rfq-1", "acc-1")
    rig.solver.on_rfq(RfqOffered("rfq-2", "AAPL", Side.BUY, D(10), None))
    assert len(rig.sent["quotes"]) == 1
    fill_completely(rig, "rfq-1-001", "x1")
    rig.solver.on_rfq(RfqOffered("rfq-3", "AAPL", Side.BUY, D(10), None))
    assert len(rig.sent["quotes"]) == 2


def test_custody_forgets_confirmed_withdrawals_and_refuses_beyond_its_limit(monkeypatch):
    monkeypatch.setattr(custody_module, "MAX_PENDING_WITHDRAWALS", 1)
    clock, confirmed = FakeClock(), []
    custody = SimulatedCustody(clock, 2.0, confirmed.append)

    def withdraw(ref):
        return WithdrawToken(rfq_ref=RfqRef(ref), occurred_at=clock.now(), symbol="AAPL", quantity=D(1),
                             account="BROKER")

    custody.withdraw(withdraw("rfq-1"))
    custody.withdraw(withdraw("rfq-1"))  # a repeat changes nothing
    with pytest.raises(CustodyQueueFull):
        custody.withdraw(withdraw("rfq-2"))
    clock.advance(2)
    custody.on_tick()
    assert confirmed == ["rfq-1"] and custody.pending() == set()


def test_state_machines_refuse_illegal_moves_with_core_invalid_transition():
    rig = make_rig()
    quote_and_win(rig, "rfq-1", "acc-1")
    rfq = rig.solver.rfqs["rfq-1"]
    with pytest.raises(InvalidTransition, match="cannot reported a broker RFQ in state AcceptedBinding"):
        rfq.apply(BrokerTrigger.REPORTED, rig.clock.now())
    order: PlacedOrder = rig.solver.orders.orders["rfq-1-001"]
    filled = order.apply(venue("x1", ExecType.TRADE, OrdStatus.FILLED, D("227.40"), D(10), D(10)))
    assert filled.state is OrderState.FILLED
    with pytest.raises(InvalidTransition, match="venue order"):
        filled.apply(venue("x2", ExecType.NEW, OrdStatus.NEW))


def test_impossible_venue_reports_are_refused_and_change_nothing():
    rig = make_rig()
    quote_and_win(rig, "rfq-1", "acc-1")
    order = rig.solver.orders.orders["rfq-1-001"]
    with pytest.raises(InvalidVenueReport):
        order.apply(venue("x1", ExecType.TRADE, OrdStatus.FILLED))  # no LastPx, no LastQty
    with pytest.raises(InvalidVenueReport):
        order.apply(venue("x1", ExecType.TRADE, OrdStatus.FILLED, D("227.40"), D(11), D(11)))  # overfill
    fill_completely(rig, "rfq-1-001", "x2", quantity=D(11))  # through the manager: logged, ignored
    assert rig.solver.orders.orders["rfq-1-001"].cum_quantity == 0 and rig.sent["reports"] == []


def test_configuration_mistakes_raise_value_errors_naming_the_setting():
    with pytest.raises(ValueError, match="ticks"):
        BrokerConfig(ticks={"AAPL": D(0)})
    with pytest.raises(ValueError, match="margin_bps"):
        BrokerConfig(ticks={"AAPL": D("0.01")}, margin_bps=D(-1))
    with pytest.raises(ValueError, match="hard_timeout_s"):
        OrderTimers(5.0, 0.0)
    with pytest.raises(ValueError, match="withdraw_delay_s"):
        SimulatedCustody(FakeClock(), -1.0, print)


def test_restart_after_a_sell_reached_custody_withdraws_again_and_settles_once():
    store = MemoryStore()
    first = make_rig(store=store)
    quote_and_win(first, "rfq-1", "acc-1", side=Side.SELL)
    fill_completely(first, "rfq-1-001", "x1")
    assert store.rfqs["rfq-1"].state is BrokerRfqState.WITHDRAWING_TOKEN
    second = make_rig(store=store)
    second.solver.restore()
    assert second.solver.custody.pending() == {"rfq-1"}
    second.clock.advance(timedelta(seconds=2).total_seconds())
    second.solver.custody.on_tick()
    [report] = second.sent["reports"]
    acknowledge(second)
    assert report.filled and second.solver.rfqs == {} and store.rfqs["rfq-1"].state is BrokerRfqState.FILLED
