"""The raw QuickFIX yardstick: an initiator keeps K small application messages (OrderStatusRequest H,
validated against the same dictionary as the gateway's) in flight to an acceptor in another process
that echoes each one back. Both sides run Python callbacks like the gateway; nothing else happens."""
from __future__ import annotations

import itertools
import threading
import time
from typing import Any

import quickfix as fix

from app.bench.fixload import LoadApplication, LoadSpec, new_message, own_cpu_s, set_field
from app.bench.histogram import LatencyHistogram
from transport.fix import tags as t

ECHO_ACCEPTOR_COMP_ID = "ECHO"
ECHO_INITIATOR_COMP_ID = "ECHOCLIENT"


def echo_message(cl_ord_id: str) -> fix.Message:
    message = new_message("H")
    set_field(message, t.CL_ORD_ID, cl_ord_id)
    set_field(message, t.SYMBOL, "AAPL")
    set_field(message, t.SIDE, "1")
    return message


class EchoAcceptor(LoadApplication):
    def on_message(self, msg_type: str, message: fix.Message) -> None:
        self.send(echo_message(message.getField(t.CL_ORD_ID)))


class EchoInitiator(LoadApplication):
    def __init__(self, spec: LoadSpec) -> None:
        super().__init__(spec)
        self._ids = itertools.count()
        self._sent_at: dict[str, int] = {}
        self._lock = threading.Lock()
        self._running = False
        self._window_end_ns = 0
        self._round_trips = 0
        self._rtt = LatencyHistogram()

    def _send_one(self) -> None:
        cl_ord_id = str(next(self._ids))
        with self._lock:
            self._sent_at[cl_ord_id] = time.monotonic_ns()
        self.send(echo_message(cl_ord_id))

    def on_message(self, msg_type: str, message: fix.Message) -> None:
        now = time.monotonic_ns()
        with self._lock:
            sent = self._sent_at.pop(message.getField(t.CL_ORD_ID), None)
            if sent is None:
                return
            self._rtt.record_ns(now - sent)
            if now <= self._window_end_ns:
                self._round_trips += 1
            again = self._running
        if again:
            self._send_one()

    def run(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """`echo` (in_flight, duration_s): K messages in flight for the duration."""
        before, cpu_before = self.counters(), own_cpu_s()
        start = time.monotonic_ns()
        self._window_end_ns = start + int(params["duration_s"] * 1e9)
        self._running = True
        for _ in range(params["in_flight"]):
            self._send_one()
        time.sleep(params["duration_s"])
        self._running = False
        deadline = time.monotonic() + params.get("drain_s", 5.0)
        while self._sent_at and time.monotonic() < deadline:
            time.sleep(0.01)
        after = self.counters()
        return {"round_trips": self._round_trips, "window_s": params["duration_s"], "rtt": self._rtt.to_json(),
                "messages_sent": after["sent"] - before["sent"],
                "messages_received": after["received"] - before["received"], "cpu_s": own_cpu_s() - cpu_before}
