"""The public FIX port as a hostile counterparty finds it (issue 8): every refused or broken
Logon is answered the FIX way within the logon timeout, credentials are compared as bytes,
"already logged on" is only said after the credentials were verified, and a clean Logout
followed by a new Logon always succeeds. Real sockets, real QuickFIX behind the screen."""
from __future__ import annotations

import subprocess
import time

import pytest

from tests.integration.conftest import start_stack, wait_until
from tests.rawfix import RawFixSession, frame, sending_time

pytestmark = pytest.mark.fix

ANSWER_WITHIN_S = 3.0  # the screen's logon timeout is 2 s


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("screen"), with_broker=False)
    running.connect("SOLVER1")
    yield running
    running.close()


@pytest.fixture
def port(running) -> int:
    return running.stack.settings.gateway.port


def password_of(running, comp_id: str) -> bytes:
    return running.stack.credentials_of(comp_id)[1].encode()


def logon_fields(sender: str = "REQ2", extra=(), seq: int = 1, target: str = "RFQGW", heartbeat_s: int = 30):
    return [(35, "A"), (49, sender), (56, target), (34, seq), (52, sending_time()), (98, 0), (108, heartbeat_s),
            (141, "Y"), *extra]


def assert_logout(session: RawFixSession, text_part: str) -> None:
    answer = session.read_until(lambda m: True, ANSWER_WITHIN_S)
    assert answer is not None, "no answer within the logon timeout"
    assert answer.get(35) == b"5", answer
    assert text_part in answer.get(58).decode(), answer.get(58)
    assert session.peer_closed_within(ANSWER_WITHIN_S), "the connection was left open"


# -- 1. authentication bypass: credentials are bytes, non-UTF-8 never matches ---------------------
@pytest.mark.parametrize("username, password", [
    (b"\xff", b"\xff"),
    (b"REQ2", b"wrong\xff"),
    (b"REQ2", b"req2-dev-password\xff"),
    (b"REQ2\xff", b"req2-dev-password"),
    (b"\xc3\x28", b"\xa0\xa1"),  # invalid UTF-8 sequences
    (b"REQ2", b"req2-dev-password\x00"),  # NUL padding hashes alike in scrypt's HMAC: refused as bytes
])
def test_non_utf8_credentials_are_refused(running, port, username, password):
    with RawFixSession(port, "REQ2") as session:
        answer = session.logon(username, password)
        assert answer is not None and answer.get(35) == b"5"
        assert answer.get(58) == b"Rejected Logon Attempt: wrong username or password"
        assert session.peer_closed_within(ANSWER_WITHIN_S)
    assert "REQ2" not in running.stack.engine.book.logged_on


def test_the_configured_pair_logs_on(running, port):
    with RawFixSession(port, "REQ2") as session:
        answer = session.logon(b"REQ2", password_of(running, "REQ2"))
        assert answer is not None and answer.get(35) == b"A"
        wait_until(lambda: "REQ2" in running.stack.engine.book.logged_on, what="REQ2 logged on")
        assert session.logout() is not None
    wait_until(lambda: "REQ2" not in running.stack.engine.book.logged_on, what="REQ2 logged out")


# -- 4. Logons that used to get no answer ---------------------------------------------------------------
BROKEN_LOGONS = {
    "100 KB credentials": (frame(logon_fields(extra=[(553, "REQ2"), (554, "x" * 100_000)])), "larger than"),
    "empty password": (frame(logon_fields(extra=[(553, "REQ2"), (554, b"")])), "tag 554 has no value"),
    "FIX.4.2": (frame(logon_fields(extra=[(553, "REQ2"), (554, "p")]), begin_string=b"FIX.4.2"),
                "unsupported BeginString FIX.4.2"),
    "wrong checksum": (frame(logon_fields(extra=[(553, "REQ2"), (554, "p")]), checksum=1), "CheckSum (10)"),
    "BodyLength too small": (frame(logon_fields(extra=[(553, "REQ2"), (554, "p")]), body_length=20),
                             "BodyLength (9)"),
    "undefined tag": (frame(logon_fields(extra=[(553, "REQ2"), (554, "p"), (9999, "x")])),
                      "tag 9999 is not defined for a Logon"),
    "repeated tag": (frame(logon_fields(extra=[(553, "REQ2"), (554, "p"), (553, "REQ2")])),
                     "tag 553 appears more than once"),
    "BodyLength too large": (frame(logon_fields(extra=[(553, "REQ2"), (554, "p")]), body_length=900),
                             "incomplete message after 2 s"),
    "not a Logon": (frame([(35, "R"), (49, "REQ2"), (56, "RFQGW"), (34, 1), (52, sending_time())]),
                    "the first message must be a Logon"),
    "no credentials": (frame(logon_fields()), "Username (553) and Password (554) are required"),
    "wrong target": (frame(logon_fields(target="OTHER", extra=[(553, "REQ2"), (554, "p")])),
                     "unknown TargetCompID OTHER"),
    "unknown sender": (frame(logon_fields(sender="NOBODY", extra=[(553, "x"), (554, "p")])), "unknown CompID NOBODY"),
    "heartbeat zero": (frame(logon_fields(heartbeat_s=0, extra=[(553, "REQ2"), (554, "p")])), "HeartBtInt (108)"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_LOGONS))
def test_every_broken_logon_gets_a_logout_with_text_and_the_connection_closes(running, port, case):
    data, text = BROKEN_LOGONS[case]
    started = time.monotonic()
    with RawFixSession(port, "REQ2") as session:
        session.send_raw(data)
        assert_logout(session, text)
    assert time.monotonic() - started < ANSWER_WITHIN_S + 1
    assert "REQ2" not in running.stack.engine.book.logged_on


def test_garbage_and_silence_are_closed_without_a_hang(port):
    with RawFixSession(port, "REQ2") as session:
        session.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 200)
        assert session.peer_closed_within(ANSWER_WITHIN_S)
    with RawFixSession(port, "REQ2") as session:  # says nothing at all
        assert session.peer_closed_within(ANSWER_WITHIN_S)


# -- 5. logon races ---------------------------------------------------------------------------------
def test_wrong_password_of_a_live_session_is_told_wrong_password_not_already_logged_on(running, port):
    with RawFixSession(port, "SOLVER1") as session:
        answer = session.logon(b"SOLVER1", b"not-the-password")
        assert answer is not None and answer.get(58) == b"Rejected Logon Attempt: wrong username or password"
    assert "SOLVER1" in running.stack.engine.book.logged_on  # the live session is untouched


def test_second_logon_with_the_right_password_is_told_already_logged_on(running, port):
    with RawFixSession(port, "SOLVER1") as session:
        answer = session.logon(b"SOLVER1", password_of(running, "SOLVER1"))
        assert answer is not None and answer.get(58) == b"session SOLVER1 is already logged on"
    assert "SOLVER1" in running.stack.engine.book.logged_on


def test_ninety_rapid_logon_logout_cycles_all_succeed(running, port):
    password = password_of(running, "REQ2")
    for cycle in range(90):
        with RawFixSession(port, "REQ2") as session:
            answer = session.logon(b"REQ2", password)
            assert answer is not None and answer.get(35) == b"A", f"cycle {cycle}: {answer}"
            assert session.logout() is not None, f"cycle {cycle}: no Logout answer"
    wait_until(lambda: "REQ2" not in running.stack.engine.book.logged_on, what="REQ2 logged out")


def test_a_dropped_connection_can_log_on_again_at_once(running, port):
    password = password_of(running, "REQ2")
    for cycle in range(10):
        session = RawFixSession(port, "REQ2").connect()
        answer = session.logon(b"REQ2", password)
        assert answer is not None and answer.get(35) == b"A", f"cycle {cycle}: {answer}"
        session.close()  # no Logout: the TCP connection just goes away


def test_bytes_sent_right_behind_the_logon_are_relayed_too(running, port):
    with RawFixSession(port, "REQ2") as session:
        logon = session.message("A", [(98, 0), (108, 30), (141, "Y"), (553, "REQ2"), (554, password_of(running, "REQ2"))])
        request = session.message("R", [(131, "piped-1"), (146, 1), (55, "ZZZZ"), (54, 1), (38, 5)])
        session.send_raw(logon + request)  # one TCP write: the QuoteRequest arrives with the Logon
        assert session.read_until(lambda m: m.get(35) == b"A", ANSWER_WITHIN_S) is not None
        reject = session.read_until(lambda m: m.get(35) == b"AG", ANSWER_WITHIN_S)
        assert reject is not None and reject.get(131) == b"piped-1"
        session.logout()


def test_an_oversize_message_before_the_logon_completes_does_not_lock_the_session_out(running, port):
    for _ in range(3):
        with RawFixSession(port, "REQ2") as session:
            logon = session.message("A", [(98, 0), (108, 30), (141, "Y"), (553, "REQ2"),
                                          (554, password_of(running, "REQ2"))])
            session.send_raw(logon)
            session.send_raw(b"8=FIX.4.4\x019=100000\x0135=D\x01")  # right behind it: logged out
            session.peer_closed_within(ANSWER_WITHIN_S + 2)
    wait_until(lambda: "REQ2" not in running.stack.engine.book.logged_on, what="REQ2 gone")
    with RawFixSession(port, "REQ2") as session:
        answer = session.logon(b"REQ2", password_of(running, "REQ2"))
        assert answer is not None and answer.get(35) == b"A", answer
        session.logout()


def test_one_address_guessing_passwords_does_not_delay_another_addresss_logon(running, port):
    """127.0.0.2 sends wrong passwords as fast as it can; 127.0.0.1 still logs on within the logon timeout,
    and 127.0.0.2 is soon refused at once, without a credential check."""
    refusals = []
    for _ in range(40):
        with RawFixSession(port, "REQ3", source_address="127.0.0.2") as guesser:
            answer = guesser.logon(b"REQ3", b"guess")
            refusals.append(answer.get(58) if answer is not None else None)
    assert b"too many failed logons" in refusals[-1]
    started = time.monotonic()
    with RawFixSession(port, "REQ3") as session:
        answer = session.logon(b"REQ3", password_of(running, "REQ3"))
        assert answer is not None and answer.get(35) == b"A"
        session.logout()
    assert time.monotonic() - started < ANSWER_WITHIN_S


def test_idle_connections_from_one_address_are_capped(running, port):
    idle = [RawFixSession(port, "REQ3", source_address="127.0.0.3").connect() for _ in range(32)]
    try:
        extra = RawFixSession(port, "REQ3", source_address="127.0.0.3").connect()
        assert extra.peer_closed_within(1.0)  # the 33rd is closed at once
        extra.close()
        with RawFixSession(port, "REQ1") as session:  # another address is not affected
            answer = session.logon(b"REQ1", password_of(running, "REQ1"))
            assert answer is not None and answer.get(35) == b"A"
            session.logout()
    finally:
        for connection in idle:
            connection.close()


# -- TLS -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "gateway.pem", folder / "gateway.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_tls_on_the_public_port(tmp_path, certificate):
    import ssl

    from app.settings import TlsSection

    cert, key = certificate

    def with_tls(settings):
        gateway = settings.gateway.model_copy(update={"tls": TlsSection(certificate=cert, key=key)})
        return settings.model_copy(update={"gateway": gateway})

    running = start_stack(tmp_path, with_broker=False, adjust=with_tls)
    try:
        port = running.stack.settings.gateway.port
        client = ssl.create_default_context(cafile=str(cert))
        with RawFixSession(port, "REQ1", tls=client) as session:
            answer = session.logon(b"REQ1", password_of(running, "REQ1"))
            assert answer is not None and answer.get(35) == b"A"
            session.send("R", [(131, "tls-1"), (146, 1), (55, "AAPL"), (54, 2), (38, 1_000_000)])
            reject = session.read_until(lambda m: m.get(35) == b"AG", 5)
            assert reject is not None and reject.get(131) == b"tls-1"
        with RawFixSession(port, "REQ1") as plain:  # plain TCP is refused: no FIX answer, closed
            plain.send_raw(frame(logon_fields(sender="REQ1", extra=[(553, "REQ1"), (554, "p")])))
            assert plain.read_message(ANSWER_WITHIN_S) is None
    finally:
        running.close()
