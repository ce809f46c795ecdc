"""Relaying an authenticated connection between the counterparty and QuickFIX.

Counterparty -> QuickFIX goes one whole message at a time (FrameScanner), so a message
larger than the session's limit never reaches QuickFIX (which has no limit of its own):
the session is logged out instead. Every inbound message, valid or not, also spends the
session's flood budget: a counterparty that keeps sending at about twice its message
rate (messages QuickFIX rejects itself included, which never reach the application's
per-message throttle) is logged out. QuickFIX -> counterparty is copied as it comes.
"""
from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from runtime.rate_limit import TokenBucket
from transport.fix.framing import FrameKind, FrameScanner

RELAY_CHUNK_BYTES = 65536
OVERSIZE_LOGOUT_WAIT_S = 2.0  # after asking QuickFIX to log a session out, close anyway after this


@dataclass(frozen=True)
class RelayLimits:
    max_message_bytes: int
    messages_per_s: float  # the session's message rate; the flood budget refills at twice this
    flood_window_s: float  # how long a session may send at ~2x its rate before it is logged out

    def flood_budget(self, now_s: float) -> TokenBucket:
        rate = 2 * self.messages_per_s
        return TokenBucket(rate, max(1.0, rate * self.flood_window_s), now_s)


@dataclass(frozen=True)
class RelayHooks:
    force_logout: Callable[[str], None]  # log the session out through QuickFIX with this Text
    limits: RelayLimits


async def relay(first: bytes, rest: bytes, client_reader: asyncio.StreamReader,
                client_writer: asyncio.StreamWriter, upstream_reader: asyncio.StreamReader,
                upstream_writer: asyncio.StreamWriter, hooks: RelayHooks) -> None:
    """Until either side closes; `first` (the screened Logon) goes upstream first, then `rest`
    (what the counterparty sent right behind it), then whatever it sends next."""
    upstream_writer.write(first)
    await upstream_writer.drain()
    inbound = asyncio.ensure_future(_pump_inbound(client_reader, upstream_writer, hooks, rest))
    outbound = asyncio.ensure_future(_pump_outbound(upstream_reader, client_writer))
    try:
        done, _ = await asyncio.wait({inbound, outbound}, return_when=asyncio.FIRST_COMPLETED)
        if inbound in done and not inbound.cancelled() and inbound.result() != "closed":
            await asyncio.wait({outbound}, timeout=OVERSIZE_LOGOUT_WAIT_S)  # let QuickFIX's Logout through
    finally:
        for task in (inbound, outbound):
            task.cancel()
        await asyncio.gather(inbound, outbound, return_exceptions=True)


async def _pump_inbound(reader: asyncio.StreamReader, sink: asyncio.StreamWriter, hooks: RelayHooks,
                        rest: bytes) -> str:
    limits = hooks.limits
    scanner = FrameScanner(limits.max_message_bytes)
    flood = limits.flood_budget(time.monotonic())
    chunk = rest
    while chunk or (chunk := await reader.read(RELAY_CHUNK_BYTES)):
        messages: list[bytes] = []  # the chunk's whole messages go upstream in one write
        now_s = time.monotonic()
        for frame in scanner.feed(chunk):
            if frame.kind is FrameKind.MESSAGE:
                if not flood.take(now_s):
                    sink.write(b"".join(messages))
                    hooks.force_logout(f"flood: messages kept arriving at more than twice the limit of "
                                       f"{limits.messages_per_s:g}/s for {limits.flood_window_s:g} s")
                    return "flood"
                messages.append(frame.data)
            elif frame.kind is FrameKind.OVERSIZE:
                sink.write(b"".join(messages))
                size = "" if frame.declared_length is None else f" (BodyLength {frame.declared_length})"
                hooks.force_logout(f"message larger than {limits.max_message_bytes} bytes{size}")
                return "oversize"
        if messages:
            sink.write(b"".join(messages))
            await sink.drain()
        chunk = b""
    return "closed"


async def _pump_outbound(reader: asyncio.StreamReader, sink: asyncio.StreamWriter) -> str:
    while chunk := await reader.read(RELAY_CHUNK_BYTES):
        sink.write(chunk)
        await sink.drain()
    return "closed"
