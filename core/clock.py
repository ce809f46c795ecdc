"""Injectable clocks: every timer in the product reads one of these."""
from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Protocol

# A function returning the current time: what stores and the ledger stamp rows with. Engines pass
# their clock's bound `now` method, so rows carry the same (injected, possibly simulated) time.
Now = Callable[[], datetime]


class Clock(Protocol):
    def now(self) -> datetime: ...


def utc_now() -> datetime:
    """The wall clock, aware UTC. Only SystemClock and OffsetClock read it; everything else takes a Clock."""
    return datetime.now(timezone.utc)


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class FakeClock:
    """A clock tests move by hand, so windows and timeouts never need sleeping."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now


class OffsetClock:
    """Real time shifted by a fixed offset: a simulated wall clock that still moves.

    The demo uses it to run in a market session whatever the hour it is started."""

    def __init__(self, starts_at: datetime) -> None:
        self._offset = starts_at - datetime.now(timezone.utc)

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self._offset
