"""Gating over real FIX sessions with the configured reference data: market hours and
holidays, quantity limits, compliance (stocks flag, jurisdiction), buying power."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from app.stack import Stack
from core.clock import FakeClock
from tests.integration.conftest import RunningStack, stack_settings
from transport.fix import tags as t

pytestmark = pytest.mark.fix
THANKSGIVING_2026 = datetime(2026, 11, 26, 15, 0, tzinfo=timezone.utc)  # 10:00 New York, NYSE closed
FRIDAY_10AM = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    clock = FakeClock(FRIDAY_10AM)
    stack = Stack(stack_settings(tmp_path_factory.mktemp("gating")), clock=clock, with_broker=False)
    stack.start()
    running = RunningStack(stack, clock)
    for comp_id in ("REQ1", "REQ2", "REQ3", "SOLVER1"):
        running.connect(comp_id)
    yield running
    running.close()


def rfq(running, comp_id: str, client_req_id: str, symbol: str, quantity, price=None):
    entry = [(t.SYMBOL, symbol), (t.SIDE, "1"), (t.ORDER_QTY, quantity)] + ([(t.PRICE, price)] if price else [])
    client = running.clients[comp_id]
    client.send("R", [(t.QUOTE_REQ_ID, client_req_id)], groups=[(t.NO_RELATED_SYM, t.SYMBOL, entry)])
    return client.wait_for(lambda m: m.msg_type == "AG" and m.get(t.QUOTE_REQ_ID) == client_req_id)


@pytest.mark.parametrize(("comp_id", "symbol", "quantity", "price", "reason", "text"), [
    ("REQ1", "AAPL", 200000, None, "3", "above the maximum"),
    ("REQ1", "AAPL", "2.5", None, "3", "not a multiple of 1"),
    ("REQ2", "AAPL", 1, None, "6", "not enabled for stock trading"),
    ("REQ3", "NVDA", 1, None, "6", "may not be traded"),
    # 22.8 M USDC: beyond REQ1's 5 M and beyond what its collateral covers at IMF (margin buying is on).
    ("REQ1", "AAPL", 100000, "228.00", "99", "insufficient buying power"),  # FIX 4.4 has no credit reason
])
def test_refused_before_any_solver_hears_of_it(running, comp_id, symbol, quantity, price, reason, text):
    client_req_id = f"gate-{comp_id}-{symbol}-{quantity}"
    reject = rfq(running, comp_id, client_req_id, symbol, quantity, price)
    assert reject[t.QUOTE_REQUEST_REJECT_REASON] == reason
    assert text in reject[t.TEXT], reject[t.TEXT]
    assert not [m for m in running.clients["SOLVER1"].received() if m.msg_type == "R"
                and m.get(t.ORDER_QTY) == str(quantity)]


def test_a_jurisdiction_rule_on_one_symbol_beats_the_group_rule(running):
    client = running.clients["REQ3"]
    client.send("R", [(t.QUOTE_REQ_ID, "zz-msft")], groups=[(t.NO_RELATED_SYM, t.SYMBOL, [
        (t.SYMBOL, "MSFT"), (t.SIDE, "1"), (t.ORDER_QTY, 1)])])
    forwarded = running.clients["SOLVER1"].wait_for(lambda m: m.msg_type == "R" and m.get(t.SYMBOL) == "MSFT")
    assert forwarded[t.QUOTE_REQ_ID].startswith("rfq-")


def test_closed_market_on_an_nyse_holiday(running):
    running.clock.advance((THANKSGIVING_2026 - running.clock.now()).total_seconds())
    reject = rfq(running, "REQ1", "holiday-1", "AAPL", 1)
    assert reject[t.QUOTE_REQUEST_REJECT_REASON] == "2" and "holiday" in reject[t.TEXT].lower()
