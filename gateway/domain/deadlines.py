"""A priority queue of deadlines: the engine's timers pop what is due instead of scanning the book.

Entries are never removed when an RFQ moves on; a popped entry is checked against the RFQ's
current state by the caller (lazy deletion), so an RFQ that was accepted before its quoting
deadline simply finds its old entry stale. Each entry leaves the queue when its time comes, so the
queue holds at most the entries of the windows still open -- and `compact` drops stale ones
earlier, when they outnumber the open RFQs.
"""
from __future__ import annotations

import heapq
from collections.abc import Callable, Hashable
from datetime import datetime
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)


class DeadlineQueue(Generic[Key]):
    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, Key]] = []
        self._pushed = 0  # tie-breaker: equal deadlines leave in the order they came

    def __len__(self) -> int:
        return len(self._heap)

    def push(self, at: datetime, key: Key) -> None:
        self._pushed += 1
        heapq.heappush(self._heap, (at, self._pushed, key))

    def pop_due(self, now: datetime, limit: int) -> list[tuple[datetime, Key]]:
        """Entries whose time is at or before `now`, earliest first, at most `limit`."""
        due: list[tuple[datetime, Key]] = []
        while self._heap and len(due) < limit and self._heap[0][0] <= now:
            at, _, key = heapq.heappop(self._heap)
            due.append((at, key))
        return due

    def compact(self, still_due: Callable[[datetime, Key], bool]) -> int:
        """Drop the entries that can no longer fire (their RFQ moved on); returns how many went.
        The owner calls it when the queue outgrows what is open, so memory follows open RFQs,
        not the rate times the longest window."""
        kept = [entry for entry in self._heap if still_due(entry[0], entry[2])]
        dropped = len(self._heap) - len(kept)
        heapq.heapify(kept)
        self._heap = kept
        return dropped
