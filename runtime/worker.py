"""A single-threaded command loop fed by bounded per-lane queues drained fairly.

QuickFIX callbacks run on QuickFIX's threads; they only translate a message and
put the resulting command here, in their session's lane. One thread owns the
state behind the handler, so the domain needs no locks. Lanes are served
round-robin, so one session's burst never delays another session's messages.
The loop also wakes every `tick_interval_s` so timers fire off the injected clock.
"""
from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Any

import structlog

from runtime.fair_queue import FairQueue, LaneFull

log = structlog.get_logger(__name__)

BATCH_LIMIT = 64  # commands handed to a batch handler at once: bounds one transaction's size and how long
# a quiet session's command waits behind a busy one (at most the batch being handled, then round-robin)
QUEUE_LIMIT = 10_000  # back-pressure: a full lane refuses work instead of growing without bound
TOTAL_QUEUE_LIMIT = 100_000  # all lanes together
CONTROL_LANE = "__control__"  # stop and call() tasks: never refused
STOP = object()


class QueueFull(Exception):
    """The loop is saturated; the caller must reject the inbound message."""


class CommandWorker:
    def __init__(
        self,
        name: str,
        handle: Callable[[Any], None],
        on_tick: Callable[[], None] | None = None,
        tick_interval_s: float = 0.05,
        queue_limit: int = QUEUE_LIMIT,
        handle_batch: Callable[[list[Any]], None] | None = None,
        batch_limit: int = BATCH_LIMIT,
    ) -> None:
        """`handle_batch`: takes every command waiting (up to `batch_limit`) at once, so the
        handler can commit them in one transaction; `handle` then only serves single commands."""
        assert batch_limit >= 1
        self.name = name
        self._handle = handle
        self._handle_batch = handle_batch
        self._batch_limit = batch_limit
        self._on_tick = on_tick
        self._tick_interval_s = tick_interval_s
        self._queue = FairQueue(queue_limit, max(queue_limit, TOTAL_QUEUE_LIMIT))
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._idle = threading.Event()
        self._idle.set()

    def start(self) -> None:
        self._thread.start()

    def submit(self, command: Any, lane: Hashable = CONTROL_LANE, lane_limit: int | None = None,
               force: bool = False) -> None:
        """Queue `command` in `lane`; QueueFull when the lane is at its limit (unless `force`)."""
        try:
            self._idle.clear()
            self._queue.put(lane, command, lane_limit=lane_limit, force=force)
        except LaneFull:
            raise QueueFull(self.name) from None

    def depth(self, lane: Hashable) -> int:
        return self._queue.depth(lane)

    def __len__(self) -> int:
        return len(self._queue)

    def call(self, function: Callable[[], Any], timeout_s: float = 10.0) -> Any:
        """Run `function` on the loop's thread and return its result (for admin reads and tests)."""
        done = threading.Event()
        box: dict[str, Any] = {}

        def task() -> None:
            try:
                box["value"] = function()
            except Exception as error:  # noqa: BLE001 - handed back to the caller
                box["error"] = error
            finally:
                done.set()

        self.submit(_Task(task), force=True)
        if not done.wait(timeout_s):
            raise TimeoutError(f"{self.name} did not answer within {timeout_s} s")
        if "error" in box:
            raise box["error"]
        return box.get("value")

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._thread.is_alive():
            self._queue.put(CONTROL_LANE, STOP, force=True)
            self._thread.join(timeout_s)

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        return self._idle.wait(timeout_s)

    def _run(self) -> None:
        while True:
            try:
                command = self._queue.get(self._tick_interval_s)
            except TimeoutError:
                self._idle.set()
                self._tick()
                continue
            if command is STOP:
                return
            if self._handle_batch is not None and not isinstance(command, _Task):
                if self._run_batch(command):
                    return
            else:
                self._dispatch(command)
            self._tick()
            if not len(self._queue):
                self._idle.set()

    def _run_batch(self, first: Any) -> bool:
        """Hand `first` and whatever else is waiting to the batch handler; True when STOP was seen."""
        assert self._handle_batch is not None
        batch = [first]
        stop_seen = False
        for item in self._queue.drain(self._batch_limit - 1):
            if item is STOP:
                stop_seen = True  # finish what was queued before it, then stop
            elif isinstance(item, _Task):
                self._call_batch(batch)
                batch = []
                self._dispatch(item)
            else:
                batch.append(item)
        self._call_batch(batch)
        return stop_seen

    def _call_batch(self, batch: list[Any]) -> None:
        if not batch:
            return
        assert self._handle_batch is not None
        try:
            self._handle_batch(batch)
        except Exception:  # noqa: BLE001 - one bad batch must not stop the loop
            log.exception("batch_failed", worker=self.name, commands=len(batch))

    def _dispatch(self, command: Any) -> None:
        try:
            if isinstance(command, _Task):
                command.run()
            else:
                self._handle(command)
        except Exception:  # noqa: BLE001 - one bad command must not stop the loop
            log.exception("command_failed", worker=self.name, command=type(command).__name__)

    def _tick(self) -> None:
        if self._on_tick is None:
            return
        try:
            self._on_tick()
        except Exception:  # noqa: BLE001
            log.exception("tick_failed", worker=self.name)


class _Task:
    def __init__(self, run: Callable[[], None]) -> None:
        self.run = run
