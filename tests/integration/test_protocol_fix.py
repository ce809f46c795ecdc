"""Issue 3 over real FIX sessions: logon screening, Immediate mode, QuoteCancel,
requester cancel, cancel on disconnect, institutional order entry."""
from __future__ import annotations

import socket
from decimal import Decimal

import pytest
import simplefix

from tests.integration.conftest import start_stack, wait_until
from transport.fix import tags as t
from transport.fix.client import FixClient

pytestmark = pytest.mark.fix
D = Decimal


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("protocol"), with_broker=False)
    for comp_id in ("REQ1", "SOLVER1", "SOLVER2"):
        running.connect(comp_id)
    yield running
    running.close()


def raw_logon(port: int, sender: str, target: str = "RFQGW",
              credentials: tuple[str, str] | None = None) -> simplefix.FixMessage:
    """Log on with a bare socket and return the gateway's first answer."""
    logon = simplefix.FixMessage()
    for tag, value in ((8, "FIX.4.4"), (35, "A"), (49, sender), (56, target), (34, 1)):
        logon.append_pair(tag, value, header=True)
    logon.append_utc_timestamp(52, header=True)
    logon.append_pair(98, 0)
    logon.append_pair(108, 30)
    if credentials is not None:
        logon.append_pair(553, credentials[0])
        logon.append_pair(554, credentials[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(logon.encode())
        parser = simplefix.FixParser()
        while (answer := parser.get_message()) is None:
            chunk = connection.recv(4096)
            assert chunk, "the gateway closed the connection without answering"
            parser.append_buffer(chunk)
        return answer


def rfq(requester: FixClient, client_req_id: str, symbol: str, side: str, quantity, extra=()) -> None:
    entry = [(t.SYMBOL, symbol), (t.SIDE, side), (t.ORDER_QTY, quantity), *extra]
    requester.send("R", [(t.QUOTE_REQ_ID, client_req_id)], groups=[(t.NO_RELATED_SYM, t.SYMBOL, entry)])


def quote(solver: FixClient, symbol: str, quantity, bid, offer, quote_id: str) -> str:
    request = solver.wait_for(lambda m: m.msg_type == "R" and m.get(t.SYMBOL) == symbol
                              and D(m[t.ORDER_QTY]) == D(quantity))
    solver.send("S", [(t.QUOTE_REQ_ID, request[t.QUOTE_REQ_ID]), (t.QUOTE_ID, quote_id), (t.SYMBOL, symbol),
                      (t.BID_PX, bid), (t.OFFER_PX, offer)])
    solver.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_ID) == quote_id)
    return request[t.QUOTE_REQ_ID]


def test_unknown_comp_id_gets_a_logout_with_text(running):
    answer = raw_logon(running.stack.settings.gateway.port, "NOBODY")
    assert answer.get(35) == b"5" and answer.get(58) == b"unknown CompID NOBODY"


def test_second_logon_of_a_live_session_gets_a_logout_with_text(running):
    # "already logged on" is only said to a peer whose credentials were verified
    answer = raw_logon(running.stack.settings.gateway.port, "REQ1", credentials=running.stack.credentials_of("REQ1"))
    assert answer.get(35) == b"5" and b"already logged on" in answer.get(58)
    assert "REQ1" in running.stack.engine.book.logged_on  # the live session is untouched


def test_immediate_mode_auto_accepts_within_the_limit(running):
    req, solver1 = running.clients["REQ1"], running.clients["SOLVER1"]
    rfq(req, "imm-1", "AAPL", "1", 11, extra=[(t.PRICE, D("228.00")), (t.RFQ_EXECUTION_MODE, "2")])
    quote(solver1, "AAPL", 11, D("227.00"), D("227.98"), "s1-imm")
    new = req.wait_for(lambda m: m.msg_type == "8" and m.get(t.CL_ORD_ID) == "imm-1")
    assert new[t.EXEC_TYPE] == "0"
    won = solver1.wait_for(lambda m: m.msg_type == "AJ" and m.get(t.QUOTE_ID) == "s1-imm")
    assert D(won[t.PRICE]) == D("227.98")
    assert not [m for m in req.received() if m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == "imm-1"]


def test_bad_execution_mode_value_gets_a_session_reject(running):
    req = running.clients["REQ1"]
    rfq(req, "imm-bad", "AAPL", "1", 3, extra=[(t.PRICE, D("228")), (t.RFQ_EXECUTION_MODE, "9")])
    reject = req.wait_for(lambda m: m.msg_type == "3" and m.get(371) == "5001")
    assert reject[373] == "5"


def test_solver_quote_cancel_and_requester_rfq_cancel(running):
    req, solver1, solver2 = (running.clients[c] for c in ("REQ1", "SOLVER1", "SOLVER2"))
    rfq(req, "cxl-1", "MSFT", "1", 12)
    gateway_id = quote(solver1, "MSFT", 12, D("414"), D("416.00"), "s1-cxl")
    quote(solver2, "MSFT", 12, D("414"), D("415.50"), "s2-cxl")
    req.wait_for(lambda m: m.msg_type == "S" and D(m[t.OFFER_PX]) == D("415.50"))
    solver2.send("Z", [(t.QUOTE_REQ_ID, gateway_id), (t.QUOTE_ID, "s2-cxl"), (298, "1")])
    ack = solver2.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_STATUS) == "1")
    assert ack[t.QUOTE_ID] == "s2-cxl"
    shown = req.wait_for(lambda m: m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == "cxl-1"
                         and D(m[t.OFFER_PX]) == D("416.00"))
    assert shown[t.QUOTE_ID]
    req.send("Z", [(t.QUOTE_REQ_ID, "cxl-1"), (t.QUOTE_ID, "cxl-1"), (298, "4")])
    done = req.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_REQ_ID) == "cxl-1"
                        and m.get(t.QUOTE_STATUS) == "4")
    assert done[t.TEXT] == "RFQ canceled"
    told = solver1.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_ID) == "s1-cxl"
                            and m.get(t.QUOTE_STATUS) == "6")
    assert "canceled by the requester" in told[t.TEXT]


def test_cancel_on_disconnect_withdraws_the_solvers_quote(running):
    req = running.clients["REQ1"]
    rfq(req, "cod-1", "NVDA", "1", 13)
    quote(running.clients["SOLVER1"], "NVDA", 13, D("130"), D("132.00"), "s1-cod")
    quote(running.clients["SOLVER2"], "NVDA", 13, D("130"), D("131.50"), "s2-cod")
    req.wait_for(lambda m: m.msg_type == "S" and D(m[t.OFFER_PX]) == D("131.50"))
    running.clients.pop("SOLVER2").stop()
    shown = req.wait_for(lambda m: m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == "cod-1"
                         and D(m[t.OFFER_PX]) == D("132.00"))
    assert shown[t.QUOTE_ID]
    running.connect("SOLVER2")


def order(requester: FixClient, cl_ord_id: str, quantity, price, ord_type="2", symbol="AAPL") -> None:
    requester.send("D", [(t.CL_ORD_ID, cl_ord_id), (t.SYMBOL, symbol), (t.SIDE, "1"), (t.TRANSACT_TIME, "20261120-15:00:00"),
                         (t.ORDER_QTY, quantity), (t.ORD_TYPE, ord_type), (t.PRICE, price)])


def report(requester: FixClient, cl_ord_id: str, exec_type: str):
    return requester.wait_for(lambda m: m.msg_type == "8" and m.get(t.CL_ORD_ID) == cl_ord_id
                              and m.get(t.EXEC_TYPE) == exec_type)


def test_order_entry_new_fill(running):
    req, solver1 = running.clients["REQ1"], running.clients["SOLVER1"]
    order(req, "ord-fill", 14, D("228.00"))
    assert report(req, "ord-fill", "0")[t.ORD_STATUS] == "0"
    quote(solver1, "AAPL", 14, D("227"), D("227.90"), "s1-ord")
    won = solver1.wait_for(lambda m: m.msg_type == "AJ" and m.get(t.QUOTE_ID) == "s1-ord")
    solver1.send("8", [(t.ORDER_ID, "x"), (t.QUOTE_RESP_ID, won[t.QUOTE_RESP_ID]), (t.EXEC_ID, "s1-ord-fill"),
                       (t.EXEC_TYPE, "F"), (t.ORD_STATUS, "2"), (t.SYMBOL, "AAPL"), (t.SIDE, "1"), (t.LAST_QTY, 14),
                       (t.LAST_PX, D("227.90")), (t.LEAVES_QTY, 0), (t.CUM_QTY, 14), (t.AVG_PX, D("227.90"))])
    filled = report(req, "ord-fill", "F")
    assert (filled[t.ORD_STATUS], D(filled[t.CUM_QTY])) == ("2", D(14))
    req.send("H", [(t.CL_ORD_ID, "ord-fill"), (t.SYMBOL, "AAPL"), (t.SIDE, "1")])
    status = report(req, "ord-fill", "I")
    assert (status[t.ORD_STATUS], D(status[t.CUM_QTY]), D(status[t.AVG_PX])) == ("2", D(14), D("227.90"))


def test_order_cancel_duplicate_and_non_limit(running):
    req = running.clients["REQ1"]
    order(req, "ord-cxl", 15, D("200.00"))
    report(req, "ord-cxl", "0")
    order(req, "ord-cxl", 15, D("200.00"))
    duplicate = report(req, "ord-cxl", "8")
    assert duplicate[103] == "6"
    req.send("F", [(t.ORIG_CL_ORD_ID, "ord-cxl"), (t.CL_ORD_ID, "cxl-req-1"), (t.SYMBOL, "AAPL"), (t.SIDE, "1"),
                   (t.TRANSACT_TIME, "20261120-15:00:00"), (t.ORDER_QTY, 15)])
    canceled = report(req, "cxl-req-1", "4")
    assert (canceled[t.ORIG_CL_ORD_ID], canceled[t.ORD_STATUS]) == ("ord-cxl", "4")
    req.send("F", [(t.ORIG_CL_ORD_ID, "ord-cxl"), (t.CL_ORD_ID, "cxl-req-2"), (t.SYMBOL, "AAPL"), (t.SIDE, "1"),
                   (t.TRANSACT_TIME, "20261120-15:00:00"), (t.ORDER_QTY, 15)])
    refused = req.wait_for(lambda m: m.msg_type == "9" and m.get(t.CL_ORD_ID) == "cxl-req-2")
    assert (refused[102], refused[t.ORD_STATUS]) == ("0", "4")
    order(req, "ord-mkt", 15, D("200.00"), ord_type="1")
    reject = req.wait_for(lambda m: m.msg_type == "3" and m.get(371) == str(t.ORD_TYPE))
    assert reject[373] == "5"


def test_order_that_no_quote_meets_expires(running):
    req = running.clients["REQ1"]
    order(req, "ord-exp", 16, D("100.00"))
    report(req, "ord-exp", "0")
    quote(running.clients["SOLVER1"], "AAPL", 16, D("227"), D("228.00"), "s1-exp")  # above the limit
    running.clock.advance(60)
    expired = report(req, "ord-exp", "C")
    assert expired[t.ORD_STATUS] == "C" and "within limit 100" in expired[t.TEXT]


def logon_with(running, comp_id: str, password: str) -> FixClient:
    gateway = running.stack.settings.gateway
    from transport.fix.dictionary import DATA_DICTIONARY

    return FixClient(comp_id, gateway.comp_id, gateway.host, gateway.port, running.stack.data_dir,
                     DATA_DICTIONARY, credentials=(comp_id, password))


def test_wrong_password_is_refused_with_a_logout_carrying_text(running):
    running.clients.pop("SOLVER2").stop()
    wait_until(lambda: "SOLVER2" not in running.stack.engine.book.logged_on, what="SOLVER2 logged out")
    intruder = logon_with(running, "SOLVER2", "not-the-password")
    try:
        with pytest.raises(TimeoutError):
            intruder.start(logon_timeout_s=3)
        logout = intruder.wait_for(lambda m: m.msg_type == "5", timeout_s=5)
        # QuickFIX prefixes the application's reason.
        assert logout[t.TEXT] == "Rejected Logon Attempt: wrong username or password"
    finally:
        intruder.stop()
        running.connect("SOLVER2")


def test_operator_disables_a_solver_from_the_cli_and_its_quotes_are_pulled(running):
    import argparse

    from ops.admin import add_admin_parser, run_admin

    req = running.clients["REQ1"]
    rfq(req, "op-1", "MSFT", "1", 17)
    quote(running.clients["SOLVER1"], "MSFT", 17, D("414"), D("415.10"), "s1-op")
    quote(running.clients["SOLVER2"], "MSFT", 17, D("414"), D("415.00"), "s2-op")
    req.wait_for(lambda m: m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == "op-1" and D(m[t.OFFER_PX]) == D("415.10"))
    req.wait_for(lambda m: m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == "op-1" and D(m[t.OFFER_PX]) == D("415.00"))
    parser = argparse.ArgumentParser()
    add_admin_parser(parser.add_subparsers(dest="command"))
    arguments = parser.parse_args(["admin", "disable-solver", "SOLVER2", "--reason", "test"])
    assert run_admin(arguments, running.stack.settings) == 0
    shown = req.wait_for(lambda m: m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == "op-1"
                         and D(m[t.OFFER_PX]) == D("415.10"))
    assert shown[t.QUOTE_ID]
    rfq(req, "op-2", "MSFT", "1", 18)
    running.clients["SOLVER1"].wait_for(lambda m: m.msg_type == "R" and D(m[t.ORDER_QTY]) == 18)
    running.settle()
    assert not [m for m in running.clients["SOLVER2"].received() if m.msg_type == "R" and D(m[t.ORDER_QTY]) == 18]
    arguments = parser.parse_args(["admin", "enable-solver", "SOLVER2"])
    assert run_admin(arguments, running.stack.settings) == 0
    wait_until(lambda: "SOLVER2" not in running.stack.engine.book.disabled_solvers, what="SOLVER2 enabled")
