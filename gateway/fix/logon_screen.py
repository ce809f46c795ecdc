"""The gateway's public FIX port: screens each connection's Logon, then relays it to the
QuickFIX acceptor on an internal loopback port.

Why a screen: QuickFIX 1.16 has no dynamic sessions and no bounds. An unknown CompID,
a second Logon of a live session, a broken first message or one that never ends are
dropped at the socket with no answer or held open. The screen answers every refused or
broken Logon the FIX way within `logon_timeout_s` (a Logout with Text when the sender
can be identified, otherwise it closes), and it authenticates before QuickFIX sees a
byte: an unauthenticated peer can neither reset nor probe a session. It also owns one
slot per session, so "already logged on" is said only to a peer whose credentials were
verified, and a clean Logout followed by a new Logon always gets through (the new
connection waits until QuickFIX has released the old one). After the Logon it relays
bytes, cutting the counterparty's stream into messages with the same rules QuickFIX
uses and refusing one larger than the session's limit (the session is logged out).
TLS, when configured, terminates here.

QuickFIX must be the project's patched build (tools/quickfix/): stock 1.16 closes a
connection's socket number while that connection's thread may still read it, so a
Logon arriving right after a Logout could be read by the dead connection (seen here).
"""
from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import simplefix
import structlog

from core.clock import utc_now
from gateway.fix.logon_rules import (
    WRONG_CREDENTIALS,
    LogonRefusal,
    LogonRequest,
    comp_id_of,
    fields_of_partial,
    logon_tags,
    screen_logon,
)
from gateway.fix.screen_admission import ScreenAdmission
from gateway.fix.screen_relay import RelayHooks, RelayLimits, relay
from transport.fix.framing import FrameKind, FrameScanner

log = structlog.get_logger(__name__)

MAX_LOGON_BYTES = 4096  # a first message larger than this is not a Logon
CREDENTIAL_CHECK_THREADS = 2  # scrypt costs ~25 ms: bounded, and off the event loop
MAX_PENDING_CHECKS = 8  # credential checks running or waiting; more logons at once are told to retry
LIVE_SESSION_GRACE_S = 0.5  # a relay this close to its end is waited for before saying "already logged on"
RELEASE_TIMEOUT_S = 2.0  # how long a new Logon waits for QuickFIX to let go of the session's last connection
REGISTRATION_POLL_S = 0.002


@dataclass(frozen=True)
class ScreenPorts:
    """What the screen asks of the rest of the gateway; every call is quick and never touches SQL."""

    known_sessions: Callable[[], frozenset[str]]
    check_credentials: Callable[[str, bytes | None, bytes | None], bool]
    is_registered: Callable[[str], bool]  # does QuickFIX still hold a connection of this session?
    relay_limits: Callable[[str], RelayLimits]
    force_logout: Callable[[str, str], None]  # a Logout with Text through QuickFIX (sequence numbers intact)
    session_released: Callable[[str], None]  # the session's relayed connection has ended


@dataclass(frozen=True)
class ScreenConfig:
    host: str
    port: int
    upstream_port: int
    gateway_comp_id: str
    data_dictionary: Path
    credentials_required: bool = True
    logon_timeout_s: float = 2.0
    tls: ssl.SSLContext | None = None


def logout_message(sender_comp_id: str, target_comp_id: str, text: str, now: datetime | None = None) -> bytes:
    message = simplefix.FixMessage()
    message.append_pair(8, "FIX.4.4", header=True)
    message.append_pair(35, "5", header=True)
    message.append_pair(49, sender_comp_id, header=True)
    message.append_pair(56, target_comp_id, header=True)
    message.append_pair(34, 1, header=True)
    message.append_utc_timestamp(52, now or utc_now(), precision=3, header=True)  # SendingTime is wire time
    message.append_pair(58, text)
    return bytes(message.encode())


@dataclass(frozen=True)
class _FirstMessage:
    kind: str  # "message" | "closed" | "timeout" | "oversize" | "garbled"
    data: bytes
    rest: bytes = b""  # bytes that arrived after the first message (pipelined): relayed after it


class LogonScreen:
    def __init__(self, config: ScreenConfig, ports: ScreenPorts) -> None:
        self._config = config
        self._ports = ports
        self._tags = logon_tags(config.data_dictionary)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="logon-screen", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._admission = ScreenAdmission()
        self._checks = asyncio.Semaphore(MAX_PENDING_CHECKS)
        self._checker = ThreadPoolExecutor(CREDENTIAL_CHECK_THREADS, thread_name_prefix="logon-check")
        self._active: dict[str, asyncio.Event] = {}  # session -> set when its relay has ended

    def start(self) -> None:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)  # every connection closes its sockets
            if self._server is not None:
                await self._server.wait_closed()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
        self._checker.shutdown(wait=False, cancel_futures=True)

    def live_relays(self) -> set[str]:
        """Sessions with a relayed connection right now (for operators and tests)."""
        return set(self._active)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self._config.host, self._config.port, ssl=self._config.tls,
            ssl_handshake_timeout=self._config.logon_timeout_s if self._config.tls else None)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if not self._admission.admit_connection(address):
            log.warning("connection_refused_at_limit", address=address, open=self._admission.open_connections)
            writer.close()  # full: closed at once, never left waiting for a slot
            return
        try:
            await self._screen_and_relay(reader, writer, address)
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError, asyncio.TimeoutError):
            pass
        except Exception:  # noqa: BLE001 - one connection's failure must not stop the screen
            log.exception("logon_screen_failed")
        finally:
            writer.close()
            self._admission.connection_closed(address)

    # -- one connection ---------------------------------------------------------------------------
    async def _screen_and_relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                                address: str) -> None:
        deadline = self._loop.time() + self._config.logon_timeout_s  # from the accept, for every step
        first = await self._read_first_message(reader, deadline)
        verdict = self._verdict(first)
        if isinstance(verdict, LogonRefusal):
            await self._refuse(writer, verdict)
            return
        if verdict is None:
            return  # the peer closed before sending a Logon: nobody to answer
        refusal = await self._check_credentials(verdict, address, deadline)
        if refusal is not None:
            await self._refuse(writer, refusal)
            return
        slot = await self._claim(verdict.sender)
        if slot is None:
            await self._refuse(writer, LogonRefusal(f"session {verdict.sender} is already logged on", verdict.sender))
            return
        try:
            await self._relay(verdict.sender, first, reader, writer)
        finally:
            self._release(verdict.sender, slot)
            self._ports.session_released(verdict.sender)

    async def _read_first_message(self, reader: asyncio.StreamReader, deadline: float) -> _FirstMessage:
        scanner = FrameScanner(MAX_LOGON_BYTES)
        received = bytearray()
        while True:
            remaining = deadline - self._loop.time()
            if remaining <= 0:
                return _FirstMessage("timeout", bytes(received))
            try:
                chunk = await asyncio.wait_for(reader.read(MAX_LOGON_BYTES), remaining)
            except asyncio.TimeoutError:
                return _FirstMessage("timeout", bytes(received))
            if not chunk:
                return _FirstMessage("closed", bytes(received))
            received += chunk
            for frame in scanner.feed(chunk):
                if frame.kind is FrameKind.MESSAGE:
                    return _FirstMessage("message", frame.data, bytes(received[len(frame.data):]))
                if frame.kind is FrameKind.OVERSIZE:
                    return _FirstMessage("oversize", bytes(received))
                return _FirstMessage("garbled", bytes(received))

    def _verdict(self, first: _FirstMessage) -> LogonRequest | LogonRefusal | None:
        sender = comp_id_of(first.data)
        if first.kind == "message":
            return screen_logon(first.data, self._config.gateway_comp_id, self._ports.known_sessions(), self._tags,
                                self._config.credentials_required)
        if first.kind == "oversize":
            return LogonRefusal(f"invalid Logon: larger than {MAX_LOGON_BYTES} bytes", sender)
        if first.kind == "garbled":
            return LogonRefusal("invalid Logon: the connection must start with BeginString (8=FIX.4.4)", sender)
        if first.kind == "timeout" and first.data:
            return LogonRefusal(_incomplete_text(first.data, self._config.logon_timeout_s), sender)
        if first.kind == "timeout":
            return LogonRefusal("no Logon", None)  # silent connection: closed without an answer
        return None

    async def _check_credentials(self, request: LogonRequest, address: str, deadline: float
                                 ) -> LogonRefusal | None:
        """None when the credentials are right; the refusal otherwise. Bounded: at most
        MAX_PENDING_CHECKS scrypt checks at once, each within the logon deadline, and none for
        an address whose logons keep failing."""
        if not self._config.credentials_required:
            return None
        now_s = self._loop.time()
        if not self._admission.may_check_credentials(address, now_s):
            return LogonRefusal("Rejected Logon Attempt: too many failed logons from this address; retry later",
                                request.sender)
        try:
            async with asyncio.timeout(max(0.0, deadline - now_s)):
                async with self._checks:
                    ok = await self._loop.run_in_executor(self._checker, self._ports.check_credentials,
                                                          request.sender, request.username, request.password)
        except TimeoutError:
            return LogonRefusal("Rejected Logon Attempt: the gateway is busy checking logons; retry", request.sender)
        except Exception:  # noqa: BLE001 - fail closed
            log.exception("logon_check_failed", session=request.sender)
            ok = False
        if ok:
            return None
        self._admission.credentials_failed(address, self._loop.time())
        return LogonRefusal(WRONG_CREDENTIALS, request.sender)

    async def _refuse(self, writer: asyncio.StreamWriter, refusal: LogonRefusal) -> None:
        log.warning("logon_refused", session=refusal.reply_to, text=refusal.text)
        if refusal.reply_to is None:
            return
        writer.write(logout_message(self._config.gateway_comp_id, refusal.reply_to, refusal.text))
        await asyncio.wait_for(writer.drain(), self._config.logon_timeout_s)

    # -- one connection per session -----------------------------------------------------------
    async def _claim(self, session: str) -> asyncio.Event | None:
        """This connection's slot for `session`, or None while another connection holds it."""
        deadline = self._loop.time() + RELEASE_TIMEOUT_S
        while (current := self._active.get(session)) is not None:
            try:
                await asyncio.wait_for(current.wait(), LIVE_SESSION_GRACE_S)
            except asyncio.TimeoutError:
                return None
        mine = asyncio.Event()
        self._active[session] = mine  # claimed before the next await: no other connection can pass
        while self._ports.is_registered(session):  # QuickFIX still tearing the last connection down
            if self._loop.time() > deadline:
                self._release(session, mine)
                return None
            await asyncio.sleep(REGISTRATION_POLL_S)
        return mine

    def _release(self, session: str, slot: asyncio.Event) -> None:
        slot.set()
        if self._active.get(session) is slot:
            del self._active[session]

    async def _relay(self, session: str, first: _FirstMessage, reader: asyncio.StreamReader,
                     writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._config.upstream_port)
        hooks = RelayHooks(force_logout=lambda text: self._ports.force_logout(session, text),
                           limits=self._ports.relay_limits(session))
        try:
            await relay(first.data, first.rest, reader, writer, upstream_reader, upstream_writer, hooks)
        finally:
            upstream_writer.close()


def _incomplete_text(received: bytes, timeout_s: float) -> str:
    fields = dict(fields_of_partial(received))
    stated = fields.get(9)
    detail = f": BodyLength (9) says {stated.decode('ascii', 'replace')}" if stated and stated.isdigit() else ""
    return f"invalid Logon: incomplete message after {timeout_s:g} s{detail}, {len(received)} bytes arrived"


TLS_VERSIONS = {"TLSv1.2": ssl.TLSVersion.TLSv1_2, "TLSv1.3": ssl.TLSVersion.TLSv1_3}


def tls_context(certificate: Path, key: Path, minimum_version: str = "TLSv1.2") -> ssl.SSLContext:
    """A server context: TLS 1.2 or newer (as Coinbase International), certificate chain and key from files."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[minimum_version]
    context.load_cert_chain(str(certificate), str(key))
    return context
