"""Persistent FIX sessions over real sockets (README "Sessions and recovery"): what a counterparty
was sent while away arrives when it returns, sequence numbers survive disconnects and restarts,
a Logon that starts again at 1 without 141=Y is refused, and a gateway killed with messages in
flight processes each of them exactly once after its restart."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from gateway.models import RfqRow
from tests.integration.conftest import REGULAR_SESSION, free_port, start_stack, wait_until
from tests.rawfix import RawFixSession
from transport.fix import tags as t
from transport.fix.client import FixClient, Received
from transport.fix.dictionary import DATA_DICTIONARY

pytestmark = pytest.mark.fix
REPO_ROOT = Path(__file__).resolve().parents[2]


def quote_request(client: FixClient, req_id: str, symbol: str = "AAPL", quantity: int = 10) -> None:
    client.send("R", [(t.QUOTE_REQ_ID, req_id)],
                groups=[(t.NO_RELATED_SYM, t.SYMBOL, [(t.SYMBOL, symbol), (t.SIDE, "1"), (t.ORDER_QTY, quantity)])])


def reconnect(running, comp_id: str) -> FixClient:
    """The same counterparty again: its own FIX store (sequence numbers) under the same folder."""
    return running.connect(comp_id)


def test_a_report_made_while_the_requester_is_away_arrives_when_it_returns(tmp_path):
    running = start_stack(tmp_path, with_broker=False)
    try:
        requester, solver = running.connect("REQ1"), running.connect("SOLVER1")
        quote_request(requester, "away-1")
        forwarded = solver.wait_for(lambda m: m.msg_type == "R")
        solver.send("S", [(t.QUOTE_REQ_ID, forwarded[t.QUOTE_REQ_ID]), (t.QUOTE_ID, "s-away"), (t.SYMBOL, "AAPL"),
                          (t.BID_PX, Decimal("200.00")), (t.OFFER_PX, Decimal("260.00"))])
        requester.wait_for(lambda m: m.msg_type == "S")
        requester.stop()
        wait_until(lambda: "REQ1" not in running.stack.engine.book.logged_on, what="REQ1 gone")
        running.clock.advance(200)  # past the acceptance window: the RFQ expires while REQ1 is away
        wait_until(lambda: running.stack.engine.book.rfq(1).is_terminal, what="expiry")
        back = reconnect(running, "REQ1")
        expired = back.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_REQ_ID) == "away-1")
        assert expired[t.QUOTE_STATUS] == "7"
        assert expired.get(43) == "Y"  # PossDupFlag: delivered by resend, under its original MsgSeqNum
    finally:
        running.close()


def _small_store_memory(settings):
    return settings.model_copy(update={"fix": settings.fix.model_copy(update={"store_max_cached_messages": 2})})


def test_messages_older_than_the_stores_memory_are_still_resent(tmp_path):
    """[fix] store_max_cached_messages bounds the message offsets QuickFIX's file store keeps in memory
    (patched QuickFIX, tools/quickfix/patch_sources.py): with a bound of 2, the six reports made while
    REQ1 was away are resent all the same -- four of them found through the store's index file."""
    assert version("quickfix").endswith("+rfq3"), "the bound needs the patched QuickFIX (scripts/bootstrap.sh)"
    running = start_stack(tmp_path, with_broker=False, adjust=_small_store_memory)
    try:
        requester = running.connect("REQ1")
        running.connect("SOLVER1")
        req_ids = [f"old-{n}" for n in range(6)]
        for req_id in req_ids:
            quote_request(requester, req_id)
        wait_until(lambda: all(running.stack.engine.book.rfq_by_client_id("REQ1", r) for r in req_ids),
                   what="six RFQs")
        requester.stop()
        wait_until(lambda: "REQ1" not in running.stack.engine.book.logged_on, what="REQ1 gone")
        running.clock.advance(200)  # every RFQ expires while REQ1 is away: six AI stored for it
        wait_until(lambda: all(running.stack.engine.book.rfq_by_client_id("REQ1", r).is_terminal for r in req_ids),
                   what="expiries")
        back = reconnect(running, "REQ1")
        for req_id in req_ids:
            expired = back.wait_for(lambda m, r=req_id: m.msg_type == "AI" and m.get(t.QUOTE_REQ_ID) == r)
            assert expired[t.QUOTE_STATUS] == "7" and expired.get(43) == "Y"
    finally:
        running.close()


def test_a_logon_starting_again_at_one_is_refused_unless_it_asks_for_a_reset(tmp_path):
    running = start_stack(tmp_path, with_broker=False)
    try:
        requester = running.connect("REQ2")
        quote_request(requester, "seq-1")
        running.settle()
        requester.stop()
        wait_until(lambda: "REQ2" not in running.stack.engine.book.logged_on, what="REQ2 gone")
        username, password = running.stack.credentials_of("REQ2")
        port = running.stack.settings.gateway.port
        with RawFixSession(port, "REQ2") as raw:
            answer = raw.logon(username.encode(), password.encode(), reset=False)
            assert answer is not None and answer.get(35) == b"5"
            assert b"MsgSeqNum too low" in (answer.get(58) or b"")
        def logs_on_with_reset() -> bool:
            with RawFixSession(port, "REQ2") as raw:
                answer = raw.logon(username.encode(), password.encode(), reset=True)
                return answer is not None and answer.get(35) == b"A" and answer.get(34) == b"1"

        # The refused connection's slot is free once QuickFIX has let go of it.
        wait_until(logs_on_with_reset, timeout_s=10, what="a Logon with 141=Y accepted")
    finally:
        running.close()


def test_sequence_numbers_survive_a_gateway_restart(tmp_path):
    first = start_stack(tmp_path, with_broker=False)
    try:
        requester, solver = first.connect("REQ1"), first.connect("SOLVER1")
        quote_request(requester, "before")
        forwarded = solver.wait_for(lambda m: m.msg_type == "R")
        solver.send("S", [(t.QUOTE_REQ_ID, forwarded[t.QUOTE_REQ_ID]), (t.QUOTE_ID, "s-1"), (t.SYMBOL, "AAPL"),
                          (t.BID_PX, Decimal("200.00")), (t.OFFER_PX, Decimal("260.00"))])
        requester.wait_for(lambda m: m.msg_type == "S")
        first.settle()
        sent_before = requester.next_sender_seq()
    finally:
        first.close()
    second = start_stack(tmp_path, with_broker=False)
    try:
        back = reconnect(second, "REQ1")  # no 141=Y: the gateway kept REQ1's sequence numbers
        assert back.next_sender_seq() >= sent_before
        # SOLVER1 is not logged on after the restart: its quote is withdrawn, and REQ1 is told.
        withdrawn = back.wait_for(lambda m: m.msg_type == "AI" and m.get(t.QUOTE_REQ_ID) == "before")
        assert "no quote" in (withdrawn.get(t.TEXT) or "").lower() or withdrawn[t.QUOTE_STATUS] in ("5", "6", "17")
        quote_request(back, "after")
        wait_until(lambda: second.stack.engine.book.rfq_by_client_id("REQ1", "after") is not None,
                   timeout_s=30, what="the RFQ sent after the restart")
    finally:
        second.close()


# -- a gateway killed with messages in flight ---------------------------------------------------------
def _serve(tmp_path: Path, gateway_port: int, venue_port: int) -> subprocess.Popen[bytes]:
    environment = {**os.environ, "RFQ_DATA_DIR": str(tmp_path / "var"), "RFQ_GATEWAY__PORT": str(gateway_port),
                   "RFQ_VENUE__PORT": str(venue_port), "RFQ_SIMULATED_START": REGULAR_SESSION.isoformat(),
                   "RFQ_LOG_FORMAT": "json",
                   # Every message of the burst must reach the engine: no admission control here.
                   "RFQ_GATEWAY__ADMISSION_BACKLOG": "100000"}
    environment.pop("DATABASE_URL", None)
    log = open(tmp_path / f"serve-{time.monotonic_ns()}.log", "wb")
    return subprocess.Popen([sys.executable, "-m", "app.cli", "serve", "--without-broker", "--venue", "in-process"],
                            cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout_s: float = 60.0) -> None:
    def listening() -> bool:
        assert process.poll() is None, f"the gateway exited with {process.returncode}"
        try:
            with RawFixSession(port, "nobody").connect():
                return True
        except OSError:
            return False

    wait_until(listening, timeout_s, what=f"the gateway listening on {port}")


def _answers(client: FixClient) -> dict[str, list[Received]]:
    by_id: dict[str, list[Received]] = {}
    for message in client.received():
        key = message.get(t.QUOTE_REQ_ID)
        if message.msg_type in ("AG", "AI", "S") and key is not None:
            by_id.setdefault(key, []).append(message)
    return by_id


def test_a_gateway_killed_with_messages_in_flight_processes_each_exactly_once(tmp_path):
    """SIGKILL while the engine works through a burst: what QuickFIX had counted but the engine had
    not committed is resent by the counterparty after the restart, and processed once."""
    gateway_port, venue_port = free_port(), free_port()
    process = _serve(tmp_path, gateway_port, venue_port)
    client = None
    try:
        _wait_listening(gateway_port, process)
        client = FixClient("REQ1", "RFQGW", "127.0.0.1", gateway_port, tmp_path / "client", DATA_DICTIONARY,
                           credentials=("REQ1", "req1-dev-password")).start(logon_timeout_s=30)
        unknown = [f"bad-{n}" for n in range(150)]  # each answered at once: AG, unknown symbol
        valid = [f"ok-{n}" for n in range(50)]  # each becomes an RFQ row
        for n in range(150):
            quote_request(client, unknown[n], symbol="ZZZZ")
            if n % 3 == 0:
                quote_request(client, valid[n // 3])
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        process = _serve(tmp_path, gateway_port, venue_port)
        _wait_listening(gateway_port, process)
        wait_until(lambda: all(key in _answers(client) for key in unknown), timeout_s=120,
                   what="an answer to every refused QuoteRequest")
        answers = _answers(client)
        for key in unknown:
            first, *again = answers[key]
            assert first.msg_type == "AG"
            # A second answer is only ever a resend of the first, flagged as such.
            assert all(m.get(97) == "Y" or m.get(43) == "Y" for m in again), (key, again)
    finally:
        if client is not None:
            client.stop()
        process.send_signal(signal.SIGTERM)
        process.wait(20)
    engine = create_engine(f"sqlite:///{tmp_path / 'var' / 'rfq.sqlite3'}")
    with Session(engine) as session:
        counts = dict(session.execute(select(RfqRow.client_req_id, func.count()).group_by(RfqRow.client_req_id)).all())
    engine.dispose()
    assert set(counts) == set(valid) and set(counts.values()) == {1}  # every RFQ once, none lost
