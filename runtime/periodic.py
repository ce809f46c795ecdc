"""A function run every `interval_s` on its own daemon thread until stopped (for housekeeping that
must not run on an engine's thread, e.g. re-reading operator-maintained credentials)."""
from __future__ import annotations

import threading
from collections.abc import Callable

import structlog

log = structlog.get_logger(__name__)


class Periodic:
    def __init__(self, name: str, interval_s: float, run: Callable[[], None]) -> None:
        if interval_s <= 0:
            raise ValueError(f"{name}: interval_s must be positive, got {interval_s}")
        self._name = name
        self._interval_s = interval_s
        self._run = run
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self._run()
            except Exception:  # noqa: BLE001 - housekeeping keeps going; the next round may succeed
                log.exception("periodic_failed", task=self._name)
