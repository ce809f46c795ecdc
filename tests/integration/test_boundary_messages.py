"""Application messages at the FIX boundary (issue 8), over real sockets: every refused
message gets exactly one answer naming the tag and why, identifiers are bounded, one
session's flood neither starves another session nor goes on for ever."""
from __future__ import annotations

import time
from decimal import Decimal

import pytest

from app.settings import SessionLimitOverrides, SessionSection
from runtime.worker import BATCH_LIMIT
from tests.integration.conftest import raw_session, start_stack, wait_until
from tests.rawfix import RawFixSession

pytestmark = pytest.mark.fix

QUIET_PERIOD_S = 0.5  # after an answer, how long we listen for a (forbidden) second one


def with_flood_sessions(settings):
    """Two extra requester sessions on REQ1's account: FLOOD (default limits), FLOOD2 (tight limits)."""
    flood = SessionSection(comp_id="FLOOD", role="requester", account="REQ1", username="FLOOD",
                           password="flood-password")
    flood2 = SessionSection(comp_id="FLOOD2", role="requester", account="REQ1", username="FLOOD2",
                            password="flood2-password",
                            limits=SessionLimitOverrides(messages_per_s=50, burst=20, flood_window_s=1.0))
    return settings.model_copy(update={"sessions": [*settings.sessions, flood, flood2]})


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("boundary"), with_broker=False, adjust=with_flood_sessions)
    for comp_id in ("SOLVER1",):
        running.connect(comp_id)
    yield running
    running.close()


@pytest.fixture
def req(running):
    session = raw_session(running, "REQ1")
    yield session
    session.close()
    wait_until(lambda: "REQ1" not in running.stack.engine.book.logged_on, what="REQ1 logged out")


def quote_request(client_req_id: bytes | str, price: bytes | str | None = None, quantity: bytes | str = "5",
                  symbol: bytes | str = "AAPL"):
    fields = [(131, client_req_id), (146, 1), (55, symbol), (54, 1), (38, quantity)]
    if price is not None:
        fields.append((44, price))
    return fields


def answers_to(session: RawFixSession, seq: int, client_req_id: bytes | None) -> list:
    """Every message that answers the message sent with MsgSeqNum `seq` (or carries its id)."""
    def answers(message) -> bool:
        return ((message.get(35) in (b"3", b"j") and message.get(45) == str(seq).encode())
                or (client_req_id is not None and message.get(131) == client_req_id))

    first = session.read_until(answers, 5.0)
    assert first is not None, f"no answer to message {seq}; received {session.received}"
    more = session.read_until(answers, QUIET_PERIOD_S)
    return [first] + ([more] if more is not None else [])


@pytest.mark.parametrize("fields, tag, text", [
    (quote_request("p1", price="1e400"), 44, "exponent notation"),
    (quote_request("p2", price="1e-30"), 44, "exponent notation"),
    (quote_request("p3", price="0." + "1" * 30), 44, "at most 12 decimal places"),
    (quote_request("p4", price="9" * 27), 44, "at most 26 integer digits"),
    (quote_request("q1", quantity="1e400"), 38, "exponent notation"),
    (quote_request(b"id\xff\xfe"), 131, "printable ASCII"),
    (quote_request("s1", symbol=b"AAP\xc9L"), 55, "printable ASCII"),
    (quote_request("x" * 65), 131, "at most 64 characters"),
    (quote_request("n1", price="abc"), 44, "is not a decimal number"),
    (quote_request("p5", price="1234567890123456.1234567890123"), 44, "at most 12 decimal places"),
])
def test_a_malformed_value_gets_exactly_one_session_reject_naming_the_tag(running, req, fields, tag, text):
    rfqs_before = len(running.stack.engine.book.all_rfqs())
    seq = req.send("R", fields)
    [reject] = answers_to(req, seq, None)
    assert reject.get(35) == b"3" and reject.get(371) == str(tag).encode() and reject.get(373) == b"5"
    assert text in reject.get(58).decode() and f"tag {tag} (" in reject.get(58).decode()
    running.settle()
    assert len(running.stack.engine.book.all_rfqs()) == rfqs_before


def test_a_huge_but_well_formed_limit_is_refused_for_buying_power_not_an_error(req):
    seq = req.send("R", quote_request("big-limit", price="9" * 26))
    [reject] = answers_to(req, seq, b"big-limit")
    assert reject.get(35) == b"AG" and reject.get(658) == b"99" and b"insufficient buying power" in reject.get(58)


def test_a_quantity_beyond_the_maximum_says_so(req):
    seq = req.send("R", quote_request("too-many", quantity="5000000000"))
    [reject] = answers_to(req, seq, b"too-many")
    assert reject.get(35) == b"AG" and reject.get(58) == b"quantity 5000000000 exceeds the maximum 1000000000"


def test_a_one_megabyte_identifier_logs_the_session_out_and_it_can_come_back(running, req):
    req.send("R", quote_request("x" * 1_000_000))
    logout = req.read_until(lambda m: m.get(35) == b"5", 5.0)
    assert logout is not None and b"message larger than 8192 bytes" in logout.get(58)
    assert req.peer_closed_within(5.0)
    wait_until(lambda: "REQ1" not in running.stack.engine.book.logged_on, what="REQ1 logged out")
    again = raw_session(running, "REQ1")
    again.close()


def test_a_flood_is_throttled_while_a_quiet_requester_is_served_first(running):
    """5,000 QuoteRequests at once from FLOOD; REQ1's one RFQ is forwarded, quoted, accepted and filled
    long before FLOOD's backlog is through (the engine serves sessions round-robin)."""
    solver = running.clients["SOLVER1"]
    flood = raw_session(running, "FLOOD")
    quiet = raw_session(running, "REQ1")
    try:
        burst = b"".join(flood.message("R", quote_request(f"f{index}", quantity="1")) for index in range(5000))
        flood.send_raw(burst)
        time.sleep(0.05)  # the flood is in: now the quiet requester asks
        quiet.send("R", quote_request("quiet-1", quantity="7"))
        request = solver.wait_for(lambda m: m.msg_type == "R" and Decimal(m[38]) == 7, timeout_s=30)
        forwarded_before = sum(1 for m in solver.received() if m.msg_type == "R" and Decimal(m[38]) == 1)
        solver.send("S", [(131, request[131]), (117, "quiet-q"), (55, "AAPL"), (132, "227.00"), (133, "228.00")])
        shown = quiet.read_until(lambda m: m.get(35) == b"S" and m.get(131) == b"quiet-1", 30)
        assert shown is not None
        quiet.send("AJ", [(693, "quiet-acc"), (117, shown.get(117)), (694, 1), (55, "AAPL"), (54, 1)])
        won = solver.wait_for(lambda m: m.msg_type == "AJ" and m.get(117) == "quiet-q", timeout_s=30)
        solver.send("8", [(37, "o1"), (693, won[693]), (17, "quiet-fill"), (150, "F"), (39, "2"), (55, "AAPL"),
                          (54, "2"), (32, 7), (31, "228.00"), (151, 0), (14, 7), (6, "228.00")])
        filled = quiet.read_until(lambda m: m.get(35) == b"8" and m.get(150) == b"F", 30)
        assert filled is not None and filled.get(39) == b"2"
        # Round-robin between batches: at most the batch in hand and FLOOD's share of the next were
        # handled before REQ1's, never the whole backlog.
        assert forwarded_before <= 4 * BATCH_LIMIT, forwarded_before
        throttled = flood.read_until(lambda m: m.get(35) == b"AG" and b"throttled" in (m.get(58) or b""), 30)
        assert throttled is not None and throttled.get(658) == b"99"
    finally:
        flood.close()
        quiet.close()


def test_a_flood_that_does_not_stop_is_logged_out(running):
    """FLOOD2 may send 50 messages/s: at ~4x that for its 1 s flood window it is logged out."""
    flood = raw_session(running, "FLOOD2")
    try:
        deadline = time.monotonic() + 5
        logout = None
        index = 0
        while time.monotonic() < deadline and logout is None:
            # valid QuoteCancels and ones QuickFIX rejects itself (no QuoteID): all of them count
            flood.send_raw(b"".join(flood.message("Z", [(131, f"none-{index + k}"), (117, "x"), (298, 4)])
                                    for k in range(10)))
            flood.send_raw(b"".join(flood.message("Z", [(131, f"bad-{index + k}"), (298, 4)]) for k in range(10)))
            index += 20
            logout = flood.read_until(lambda m: m.get(35) == b"5", 0.1)
        assert logout is not None and b"flood" in logout.get(58)
        assert flood.peer_closed_within(5.0)
    finally:
        flood.close()
    wait_until(lambda: "FLOOD2" not in running.stack.engine.book.logged_on, what="FLOOD2 logged out")
    again = raw_session(running, "FLOOD2")  # the session is usable again after a forced logout
    again.close()
