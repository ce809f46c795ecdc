"""Bounded per-lane FIFO queues drained round-robin.

The engine's intake: one lane per FIX session, so a session that floods fills only its
own lane (and is refused beyond its limit) while every other session's next message is
at most one message per busy lane away from being processed."""
from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Hashable
from typing import Any


class LaneFull(Exception):
    """The lane holds its limit of items; the caller must refuse the item."""


class FairQueue:
    def __init__(self, lane_limit: int, total_limit: int) -> None:
        if not 0 < lane_limit <= total_limit:
            raise ValueError(f"need 0 < lane_limit <= total_limit, got {lane_limit}, {total_limit}")
        self._lane_limit = lane_limit
        self._total_limit = total_limit
        self._lanes: dict[Hashable, deque[Any]] = {}
        self._ready: deque[Hashable] = deque()  # lanes with items, in service order
        self._size = 0
        self._condition = threading.Condition()

    def put(self, lane: Hashable, item: Any, lane_limit: int | None = None, force: bool = False) -> None:
        """Append to `lane`; LaneFull when it (or the whole queue) is at its limit, unless `force`.

        `force` is for control items that must never be refused (a session's logon or logout):
        there is at most a handful of them per session, so they cannot grow the queue without bound."""
        limit = self._lane_limit if lane_limit is None else lane_limit
        with self._condition:
            items = self._lanes.get(lane)
            depth = len(items) if items is not None else 0
            if not force and (depth >= limit or self._size >= self._total_limit):
                raise LaneFull(lane)
            if items is None:
                items = self._lanes[lane] = deque()
            if not items:
                self._ready.append(lane)
            items.append(item)
            self._size += 1
            self._condition.notify()

    def get(self, timeout_s: float) -> Any:
        """The next item, round-robin over lanes; raises TimeoutError when none arrives in time."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not self._ready:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                self._condition.wait(remaining)
            lane = self._ready.popleft()
            items = self._lanes[lane]
            item = items.popleft()
            self._size -= 1
            if items:
                self._ready.append(lane)
            else:
                del self._lanes[lane]  # idle lanes take no memory
            return item

    def drain(self, max_items: int) -> list[Any]:
        """Up to `max_items` more items, without waiting, in the same fair order."""
        taken: list[Any] = []
        while len(taken) < max_items:
            try:
                taken.append(self.get(0.0))
            except TimeoutError:
                break
        return taken

    def depth(self, lane: Hashable) -> int:
        with self._condition:
            items = self._lanes.get(lane)
            return len(items) if items is not None else 0

    def __len__(self) -> int:
        with self._condition:
            return self._size
