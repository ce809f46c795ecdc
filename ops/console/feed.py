"""How the console learns that something changed, and the snapshot every browser shares.

`LiveFeed.observe` is an engine commit observer: on the engine thread it only bumps a counter
and keeps the last few changes in a bounded deque (no I/O, no locks held for long). The console's
event streams poll that counter a few times a second; when it moved -- or `refresh_s` passed,
which also covers a console running in another process than the gateway, and changes made
outside the engine (broker margins, reconciliation runs) -- one fresh snapshot is read from the
database in a worker thread and shared by every connected browser.
"""
from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, replace

import anyio.to_thread

from gateway.domain.book import Changeset
from ops.console.snapshot import Snapshot

RECENT_CHANGES = 50
QUALITY_REFRESH_S = 5.0  # the execution-quality report is the heaviest read: at most this often


@dataclass(frozen=True)
class Change:
    at: float  # monotonic
    text: str


class LiveFeed:
    def __init__(self) -> None:
        self.version = 0
        self.recent: deque[Change] = deque(maxlen=RECENT_CHANGES)
        self._lock = threading.Lock()

    def observe(self, changes: Changeset) -> None:
        """Commit observer (engine thread): cheap bookkeeping only."""
        if changes.is_empty:
            return
        with self._lock:
            self.version += 1
        for rfq in changes.rfqs[:5]:
            self.recent.append(Change(time.monotonic(), f"RFQ {rfq.rfq_id} {rfq.state.value}"))

    def touch(self) -> None:
        """Something changed outside the engine (an operator action from the console)."""
        with self._lock:
            self.version += 1


class SharedSnapshot:
    """At most one database read at a time, reused by every stream until the feed moves or it ages."""

    def __init__(self, read: Callable[[bool], Snapshot], feed: LiveFeed, refresh_s: float) -> None:
        self._read = read
        self._feed = feed
        self._refresh_s = refresh_s
        self._lock = asyncio.Lock()
        self._snapshot: Snapshot | None = None
        self._version = -1
        self._read_at = 0.0
        self._quality_at = 0.0
        self._serial = 0

    async def current(self) -> Snapshot:
        async with self._lock:
            now = time.monotonic()
            if self._snapshot is None or self._feed.version != self._version or now - self._read_at >= self._refresh_s:
                version = self._feed.version
                with_quality = self._snapshot is None or now - self._quality_at >= QUALITY_REFRESH_S
                fresh = await anyio.to_thread.run_sync(self._read, with_quality)
                if not with_quality and self._snapshot is not None:
                    fresh = _with_quality(fresh, self._snapshot)
                else:
                    self._quality_at = now
                self._serial += 1
                self._snapshot = replace(fresh, serial=self._serial)
                self._version, self._read_at = version, now
            return self._snapshot

    def read_now(self) -> Snapshot:
        """For a page load (not on the event loop): always a fresh read."""
        return self._read(True)


def _with_quality(fresh: Snapshot, previous: Snapshot) -> Snapshot:
    return replace(fresh, quality=previous.quality)
