"""What every long-running command of the app shares: waiting for Ctrl-C or SIGTERM."""
from __future__ import annotations

import signal
import threading

STOP_POLL_S = 0.5  # how often the main thread wakes to notice the signal


def wait_for_stop() -> None:
    """Block until SIGINT or SIGTERM."""
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    while not stopped.wait(STOP_POLL_S):
        pass
