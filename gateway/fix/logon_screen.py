"""The gateway's public FIX port: screens each connection's Logon, then relays
bytes to the QuickFIX acceptor on an internal loopback port.

Why: QuickFIX 1.16 has no dynamic sessions, so a Logon from an unknown CompID,
or a second Logon of a session that is already live, is dropped at the socket
with no answer. The screen answers those with a Logout (35=5) whose Text says
why. Everything else (password checks, sequence numbers, validation) stays
with QuickFIX, which sees the same bytes the counterparty sent.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import datetime, timezone

import simplefix
import structlog

log = structlog.get_logger(__name__)

FIRST_MESSAGE_TIMEOUT_S = 10.0  # a connection that sends no Logon in this time is closed
MAX_LOGON_BYTES = 4096  # a first message larger than this is not a Logon
RELAY_CHUNK_BYTES = 65536
MAX_CONNECTIONS = 256


def logout_message(sender_comp_id: str, target_comp_id: str, text: str) -> bytes:
    message = simplefix.FixMessage()
    message.append_pair(8, "FIX.4.4", header=True)
    message.append_pair(35, "5", header=True)
    message.append_pair(49, sender_comp_id, header=True)
    message.append_pair(56, target_comp_id, header=True)
    message.append_pair(34, 1, header=True)
    message.append_utc_timestamp(52, datetime.now(timezone.utc), precision=3, header=True)
    message.append_pair(58, text)
    return message.encode()


class LogonScreen:
    def __init__(self, host: str, port: int, upstream_port: int, gateway_comp_id: str,
                 known_sessions: Callable[[], set[str]], live_sessions: Callable[[], set[str]]) -> None:
        self._host, self._port, self._upstream_port = host, port, upstream_port
        self._comp_id = gateway_comp_id
        self._known = known_sessions
        self._live = live_sessions
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="logon-screen", daemon=True)
        self._server: asyncio.AbstractServer | None = None
        self._slots = asyncio.Semaphore(MAX_CONNECTIONS)

    def start(self) -> None:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(timeout=10)

    def stop(self) -> None:
        async def close() -> None:
            if self._server is not None:
                self._server.close()
                await self._server.wait_closed()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, self._host, self._port)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        async with self._slots:
            try:
                first = await asyncio.wait_for(self._read_first_message(reader), FIRST_MESSAGE_TIMEOUT_S)
                if first is None:
                    return
                raw, message = first
                refusal = self._refusal(message)
                if refusal is not None:
                    sender = (message.get(49) or b"?").decode(errors="replace")
                    log.warning("logon_screened_out", session=sender, text=refusal)
                    writer.write(logout_message(self._comp_id, sender, refusal))
                    await writer.drain()
                    return
                await self._relay(raw, reader, writer)
            except (asyncio.TimeoutError, ConnectionError, asyncio.IncompleteReadError):
                return
            finally:
                writer.close()

    @staticmethod
    async def _read_first_message(reader: asyncio.StreamReader) -> tuple[bytes, simplefix.FixMessage] | None:
        parser = simplefix.FixParser()
        raw = b""
        while len(raw) <= MAX_LOGON_BYTES:
            chunk = await reader.read(1024)
            if not chunk:
                return None
            raw += chunk
            parser.append_buffer(chunk)
            message = parser.get_message()
            if message is not None:
                return raw, message
        return None

    def _refusal(self, message: simplefix.FixMessage) -> str | None:
        msg_type = message.get(35)
        sender = (message.get(49) or b"").decode(errors="replace")
        target = (message.get(56) or b"").decode(errors="replace")
        if msg_type != b"A":
            return "the first message must be a Logon (35=A)"
        if target != self._comp_id:
            return f"unknown TargetCompID {target}: this gateway is {self._comp_id}"
        if sender not in self._known():
            return f"unknown CompID {sender}"
        if sender in self._live():
            return f"session {sender} is already logged on"
        return None

    async def _relay(self, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._upstream_port)
        upstream_writer.write(first)
        await upstream_writer.drain()

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while chunk := await source.read(RELAY_CHUNK_BYTES):
                    sink.write(chunk)
                    await sink.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                sink.close()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))
