"""The whole path over real FIX sessions on loopback: a requester and two solvers
as test clients, the gateway, the broker connector and the simulated venue.
Asserts the FIX messages each side receives and the ledger to the cent."""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest

from transport.fix import tags as t
from transport.fix.client import FixClient, Received

pytestmark = pytest.mark.fix
CENT = Decimal("0.01")


def send_rfq(requester: FixClient, client_req_id: str, symbol: str, side: str, quantity: int, **extra) -> None:
    entry = [(t.SYMBOL, symbol), (t.SIDE, side), (t.ORDER_QTY, quantity)]
    entry += [(tag, value) for tag, value in extra.get("entry", [])]
    entry = [(tag, value) for tag, value in entry if tag not in extra.get("omit", ())]
    requester.send("R", [(t.QUOTE_REQ_ID, client_req_id)], groups=[(t.NO_RELATED_SYM, t.SYMBOL, entry)])


def rfq_seen_by(solver: FixClient, symbol: str, quantity: int) -> Received:
    return solver.wait_for(lambda m: m.msg_type == "R" and m.get(t.SYMBOL) == symbol
                           and Decimal(m[t.ORDER_QTY]) == quantity)


def quote(solver: FixClient, request: Received, bid: Decimal, offer: Decimal) -> str:
    quote_id = f"{solver.comp_id}-{request[t.QUOTE_REQ_ID]}"
    solver.send("S", [(t.QUOTE_REQ_ID, request[t.QUOTE_REQ_ID]), (t.QUOTE_ID, quote_id),
                      (t.SYMBOL, request[t.SYMBOL]), (t.BID_PX, bid), (t.OFFER_PX, offer)])
    ack = solver.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_ID) == quote_id)
    assert ack[t.QUOTE_STATUS] == "0", ack.get(t.TEXT)
    return quote_id


def fill(solver: FixClient, acceptance: Received, price: Decimal, quantity: Decimal, exec_id: str) -> None:
    solver.send("8", [(t.ORDER_ID, exec_id), (t.QUOTE_RESP_ID, acceptance[t.QUOTE_RESP_ID]), (t.EXEC_ID, exec_id),
                      (t.EXEC_TYPE, "F"), (t.ORD_STATUS, "2"), (t.SYMBOL, acceptance[t.SYMBOL]),
                      (t.SIDE, acceptance[t.SIDE]), (t.LAST_QTY, quantity), (t.LAST_PX, price),
                      (t.LEAVES_QTY, 0), (t.CUM_QTY, quantity), (t.AVG_PX, price)])


def best_quote_shown(running, requester: FixClient, client_req_id: str, quotes_expected: int) -> Received:
    """The requester's current best: waits for all quotes, then for the Quote showing the engine's best."""
    from tests.integration.conftest import wait_until

    book = running.stack.engine.book

    def presented() -> str | None:
        def read():
            rfq = book.rfq_by_client_id("REQ1", client_req_id)
            if rfq is None or len(book.quotes(rfq.rfq_id)) < quotes_expected:
                return None
            return book.presented(rfq.rfq_id)
        return running.stack.worker.call(read)

    wait_until(lambda: presented() is not None, what="all quotes in and a best presented")
    best_id = presented()
    shown = requester.wait_for(lambda m: m.msg_type == "S" and m.get(t.QUOTE_ID) == best_id)
    assert shown[t.QUOTE_REQ_ID] == client_req_id
    return shown


def accept(requester: FixClient, shown: Received) -> str:
    resp_id = f"acc-{shown[t.QUOTE_ID]}"
    requester.send("AJ", [(t.QUOTE_RESP_ID, resp_id), (t.QUOTE_ID, shown[t.QUOTE_ID]), (t.QUOTE_RESP_TYPE, 1),
                          (t.SYMBOL, shown[t.SYMBOL])])
    return resp_id


def report(requester: FixClient, cl_ord_id: str, exec_type: str) -> Received:
    return requester.wait_for(lambda m: m.msg_type == "8" and m.get(t.CL_ORD_ID) == cl_ord_id
                              and m.get(t.EXEC_TYPE) == exec_type)


def nbbo(running, symbol: str):
    return running.stack.market.nbbo(symbol, running.clock.now())


def test_filled_buy_through_the_broker_and_the_venue(running):
    req, solver1 = running.clients["REQ1"], running.clients["SOLVER1"]
    usdc0, aapl0 = running.balance("REQ1", "USDC"), running.balance("REQ1", "AAPL")
    broker_usdc0 = running.balance("BROKER", "USDC")
    market = nbbo(running, "AAPL")
    send_rfq(req, "buy-10", "AAPL", "1", 10)
    quote(solver1, rfq_seen_by(solver1, "AAPL", 10), market.bid - 1, market.ask + 1)  # worse than the broker
    shown = best_quote_shown(running, req, "buy-10", quotes_expected=2)
    broker_ask = Decimal(shown[t.OFFER_PX])
    assert market.ask < broker_ask <= market.ask * Decimal("1.002") + CENT  # NBBO + 20 bps, on the tick
    resp_id = accept(req, shown)
    assert report(req, resp_id, "0")[t.ORD_STATUS] == "0"  # New: funds locked
    filled = report(req, resp_id, "F")
    price, quantity = Decimal(filled[t.LAST_PX]), Decimal(filled[t.LAST_QTY])
    assert (filled[t.ORD_STATUS], quantity, Decimal(filled[t.CUM_QTY]), Decimal(filled[t.LEAVES_QTY])) == (
        "2", Decimal(10), Decimal(10), Decimal(0))
    assert Decimal(filled[t.AVG_PX]) == price
    assert price <= broker_ask  # never worse than quoted; improvement passed through
    assert "rfq-1-001" in running.stack.broker.solver.orders.orders  # the venue order's ClOrdID
    venue_fill = running.stack.broker.solver.orders.orders["rfq-1-001"]
    assert venue_fill.average_price <= market.ask  # the venue filled at NBBO or better
    paid = (price * quantity).quantize(CENT, rounding=ROUND_FLOOR)
    running.settle()
    assert running.balance("REQ1", "USDC") == (usdc0[0] - paid, Decimal(0))
    assert running.balance("REQ1", "AAPL") == (aapl0[0] + 10, Decimal(0))
    assert running.balance("BROKER", "USDC") == (broker_usdc0[0] + paid, Decimal(0))
    lost = solver1.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_STATUS) == "6")
    assert "another quote" in lost[t.TEXT]


def test_filled_sell_won_by_a_solver_with_price_improvement(running):
    req, solver1, solver2 = running.clients["REQ1"], running.clients["SOLVER1"], running.clients["SOLVER2"]
    usdc0, msft0 = running.balance("REQ1", "USDC"), running.balance("REQ1", "MSFT")
    s2_usdc0 = running.balance("SOLVER2", "USDC")
    market = nbbo(running, "MSFT")
    send_rfq(req, "sell-5", "MSFT", "2", 5)
    quote(solver1, rfq_seen_by(solver1, "MSFT", 5), market.bid - 1, market.ask + 1)
    winning_bid = market.bid + Decimal("0.50")
    quote(solver2, rfq_seen_by(solver2, "MSFT", 5), winning_bid, market.ask + 1)
    shown = best_quote_shown(running, req, "sell-5", quotes_expected=3)
    assert Decimal(shown[t.BID_PX]) == winning_bid and t.OFFER_PX not in dict(shown.pairs)
    resp_id = accept(req, shown)
    acceptance = solver2.wait_for(lambda m: m.msg_type == "AJ")
    assert (Decimal(acceptance[t.PRICE]), Decimal(acceptance[t.ORDER_QTY]), acceptance[t.SIDE]) == (
        winning_bid, Decimal(5), "2")
    improved = winning_bid + Decimal("0.013")
    fill(solver2, acceptance, improved, Decimal(5), exec_id="s2-fill-1")
    settled = solver2.wait_for(lambda m: m.msg_type == "BN")  # ExecutionAcknowledgement: settled
    assert (settled[17], settled[1036], settled[37]) == ("s2-fill-1", "1", acceptance[t.QUOTE_RESP_ID])
    filled = report(req, resp_id, "F")
    assert (Decimal(filled[t.LAST_PX]), filled[t.ORD_STATUS]) == (improved, "2")
    received = (improved * 5).quantize(CENT, rounding=ROUND_CEILING)
    running.settle()
    assert running.balance("REQ1", "USDC") == (usdc0[0] + received, Decimal(0))
    assert running.balance("REQ1", "MSFT") == (msft0[0] - 5, Decimal(0))
    assert running.balance("SOLVER2", "USDC") == (s2_usdc0[0] - received, Decimal(0))
    # A second fill for the same RFQ is refused and changes nothing.
    fill(solver2, acceptance, improved, Decimal(5), exec_id="s2-fill-2")
    refused = solver2.wait_for(lambda m: m.msg_type == "BN")
    assert (refused[17], refused[1036], refused[127]) == ("s2-fill-2", "2", "D")
    assert "already Filled" in refused[t.TEXT]
    running.settle()
    assert running.balance("REQ1", "MSFT") == (msft0[0] - 5, Decimal(0))


def test_partial_fill_settles_what_was_filled_and_releases_the_rest(running):
    req, solver1 = running.clients["REQ1"], running.clients["SOLVER1"]
    usdc0 = running.balance("REQ1", "USDC")
    market = nbbo(running, "AAPL")
    send_rfq(req, "buy-8", "AAPL", "1", 8)
    offer = market.ask  # better than the broker's NBBO + 20 bps
    quote(solver1, rfq_seen_by(solver1, "AAPL", 8), market.bid, offer)
    shown = best_quote_shown(running, req, "buy-8", quotes_expected=2)
    assert Decimal(shown[t.OFFER_PX]) == offer
    resp_id = accept(req, shown)
    report(req, resp_id, "0")
    running.settle()
    assert running.balance("REQ1", "USDC")[1] == (offer * 8).quantize(CENT, rounding=ROUND_FLOOR)
    fill(solver1, solver1.wait_for(lambda m: m.msg_type == "AJ"), offer, Decimal(3), exec_id="s1-partial")
    partial = report(req, resp_id, "F")
    assert (partial[t.ORD_STATUS], Decimal(partial[t.CUM_QTY]), Decimal(partial[t.LEAVES_QTY])) == (
        "1", Decimal(3), Decimal(5))
    done = report(req, resp_id, "3")
    assert (done[t.ORD_STATUS], Decimal(done[t.LEAVES_QTY]), Decimal(done[t.CUM_QTY])) == ("3", 0, 3)
    running.settle()
    assert running.balance("REQ1", "USDC") == (usdc0[0] - (offer * 3).quantize(CENT, rounding=ROUND_FLOOR),
                                               Decimal(0))


def test_unaccepted_rfq_expires_and_everyone_is_told(running):
    req, solver1 = running.clients["REQ1"], running.clients["SOLVER1"]
    usdc0 = running.balance("REQ1", "USDC")
    market = nbbo(running, "NVDA")
    send_rfq(req, "buy-7", "NVDA", "1", 7)
    quote(solver1, rfq_seen_by(solver1, "NVDA", 7), market.bid, market.ask)
    shown = best_quote_shown(running, req, "buy-7", quotes_expected=2)
    running.clock.advance(180)  # creation + 60 s submission + 120 s acceptance
    expired = req.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_REQ_ID) == "buy-7")
    assert expired[t.QUOTE_STATUS] == "7"
    solver_notice = solver1.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_STATUS) == "7"
                                     and m.get(t.SYMBOL) == "NVDA")
    assert solver_notice[t.SYMBOL] == "NVDA"
    accept(req, shown)
    late = req.wait_for(lambda m: m.msg_type == "j")
    assert late[t.REF_MSG_TYPE] == "AJ" and "Expired" in late[t.TEXT]
    assert running.balance("REQ1", "USDC") == usdc0


@pytest.mark.parametrize(("symbol", "quantity", "reason"), [("ZZZZ", 5, "1"), ("AAPL", 0, "3")])
def test_bad_quote_requests_get_a_quote_request_reject(running, symbol, quantity, reason):
    req = running.clients["REQ1"]
    client_req_id = f"bad-{symbol}-{quantity}"
    send_rfq(req, client_req_id, symbol, "1", quantity)
    reject = req.wait_for(lambda m: m.msg_type == "AG" and m.get(t.QUOTE_REQ_ID) == client_req_id)
    assert reject[t.QUOTE_REQUEST_REJECT_REASON] == reason and reject[t.TEXT]


def test_quote_request_missing_a_required_group_field_gets_a_business_reject(running):
    req = running.clients["REQ1"]
    rfqs_before = len(running.stack.engine.book.all_rfqs())
    send_rfq(req, "missing-qty", "AAPL", "1", 3, omit=(t.ORDER_QTY,))
    # QuickFIX answers a required field missing in an application message with 35=j, 380=5.
    reject = req.wait_for(lambda m: m.msg_type == "j" and m.get(t.REF_MSG_TYPE) == "R")
    assert reject[t.BUSINESS_REJECT_REASON] == "5" and "(38)" in reject[t.TEXT]
    running.settle()
    assert len(running.stack.engine.book.all_rfqs()) == rfqs_before


def test_quote_request_with_a_malformed_value_gets_a_session_reject(running):
    req = running.clients["REQ1"]
    rfqs_before = len(running.stack.engine.book.all_rfqs())
    send_rfq(req, "bad-price", "AAPL", "1", 3, entry=[(t.PRICE, "abc")])
    reject = req.wait_for(lambda m: m.msg_type == "3" and m.get(371) == str(t.PRICE))
    assert reject[373] == "5" and reject[372] == "R"  # value is incorrect for the tag
    running.settle()
    assert len(running.stack.engine.book.all_rfqs()) == rfqs_before


def test_out_of_order_messages_are_rejected(running):
    req, solver1 = running.clients["REQ1"], running.clients["SOLVER1"]
    req.send("AJ", [(t.QUOTE_RESP_ID, "acc-x"), (t.QUOTE_ID, "q999-1"), (t.QUOTE_RESP_TYPE, 1), (t.SYMBOL, "AAPL")])
    unknown = req.wait_for(lambda m: m.msg_type == "j" and m.get(t.BUSINESS_REJECT_REF_ID) == "acc-x")
    assert unknown[t.BUSINESS_REJECT_REASON] == "1"
    solver1.send("8", [(t.ORDER_ID, "o"), (t.QUOTE_RESP_ID, "acc-1"), (t.EXEC_ID, "not-mine"), (t.EXEC_TYPE, "F"),
                       (t.ORD_STATUS, "2"), (t.SYMBOL, "AAPL"), (t.SIDE, "1"), (t.LAST_QTY, 1), (t.LAST_PX, 1),
                       (t.LEAVES_QTY, 0), (t.CUM_QTY, 1), (t.AVG_PX, 1)])
    refused = solver1.wait_for(lambda m: m.msg_type == "BN" and m.get(t.EXEC_ID) == "not-mine")
    assert (refused[1036], refused[127]) == ("2", "Z") and "only the winning solver" in refused[t.TEXT]


def test_ledger_invariants_hold_after_every_scenario(running):
    running.settle()
    with running.stack.uow() as uow:
        assert uow.ledger.check_invariants() == []
    for account in ("REQ1", "SOLVER1", "SOLVER2", "BROKER"):
        for asset in ("USDC", "AAPL", "MSFT", "NVDA"):
            assert running.balance(account, asset)[1] == Decimal(0), f"{account} {asset} still locked"
