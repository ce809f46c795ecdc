"""A requester load process: one QuickFIX initiator session that opens RFQs (QuoteRequest R),
accepts the first quote the gateway shows (the best at that moment; or, with accept_after_ms, the
best shown that long after the first) with a QuoteResponse (AJ) and waits for the Filled ExecutionReport. Closed loop (K RFQs in flight, each completion opens the
next), open loop (RFQs at a fixed rate, whatever the answers) or a fixed count. Latencies are taken
here with the monotonic clock: R sent -> first Quote (S), R sent -> Filled (8, 150=F, 39=2)."""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import quickfix as fix

from app.bench.fixload import LoadApplication, LoadSpec, new_message, own_cpu_s, set_field
from app.bench.histogram import LatencyHistogram
from transport.fix import tags as t
from transport.fix.writer import new_group

ACCEPT_PREFIX = "A"  # QuoteRespID = "A" + QuoteReqID: the execution reports' ClOrdID leads back to the RFQ
PROGRESS_FRACTION = 0.1  # count mode reports when this share of its RFQs has ended
QUOTE_CANCEL_TYPE = 298
CANCEL_FOR_QUOTE_REQUEST = "4"


@dataclass
class Pending:
    sent_ns: int
    best: tuple[str, str] | None = None  # (QuoteID, Symbol) of the latest quote shown: the best
    accepted: bool = False


@dataclass
class Phase:
    closed: bool
    window_end_ns: int
    budget: int | None = None  # count mode: RFQs to open in all
    issuing: bool = True
    sent: int = 0
    ended: int = 0
    completed_in_window: int = 0
    progress_reported: bool = False
    outcomes: Counter[str] = field(default_factory=Counter)
    first_quote: LatencyHistogram = field(default_factory=LatencyHistogram)
    filled: LatencyHistogram = field(default_factory=LatencyHistogram)
    done: threading.Event = field(default_factory=threading.Event)


class RequesterLoad(LoadApplication):
    def __init__(self, spec: LoadSpec, control_send) -> None:
        super().__init__(spec)
        options = spec.options or {}
        self._run_id: str = options["run_id"]
        self._orders = itertools.cycle([(symbol, side, _limit(price, side))
                                        for side in ("1", "2")
                                        for symbol, price in sorted(options["reference_prices"].items())])
        self._sequence = 0
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}
        self._phase: Phase | None = None
        self._control_send = control_send
        # 0: accept the first quote shown; else wait this long for better ones, then accept the best shown.
        self._accept_after_ns = int(options.get("accept_after_ms", 0) * 1_000_000)
        self._due: list[tuple[int, str]] = []  # (when, QuoteReqID): acceptances waiting for their time
        self._due_changed = threading.Condition(self._lock)
        if self._accept_after_ns:
            threading.Thread(target=self._accept_when_due, name="accept-timer", daemon=True).start()

    # -- sending ------------------------------------------------------------------------------------
    def send_request(self, intended_ns: int | None = None) -> None:
        with self._lock:
            phase = self._phase
            if phase is None or not phase.issuing:
                return
            self._sequence += 1
            req_id = f"{self._run_id}-{self._sequence}"
            symbol, side, limit = next(self._orders)
            self._pending[req_id] = Pending(intended_ns or time.monotonic_ns())
            phase.sent += 1
            if phase.budget is not None and phase.sent >= phase.budget:
                phase.issuing = False
        message = new_message("R")
        set_field(message, t.QUOTE_REQ_ID, req_id)
        entry = new_group(t.NO_RELATED_SYM, t.SYMBOL, t.QUOTE_REQUEST_ENTRY_TAGS)
        set_field(entry, t.SYMBOL, symbol)
        set_field(entry, t.SIDE, side)
        set_field(entry, t.ORDER_QTY, "1")
        set_field(entry, t.PRICE, limit)
        message.addGroup(entry)
        self.send(message)

    def _accept(self, req_id: str, quote_id: str, symbol: str) -> None:
        message = new_message("AJ")
        set_field(message, t.QUOTE_RESP_ID, ACCEPT_PREFIX + req_id)
        set_field(message, t.QUOTE_ID, quote_id)
        set_field(message, t.QUOTE_RESP_TYPE, "1")
        set_field(message, t.SYMBOL, symbol)
        self.send(message)

    def _cancel(self, req_id: str) -> None:
        message = new_message("Z")
        set_field(message, t.QUOTE_REQ_ID, req_id)
        set_field(message, t.QUOTE_ID, req_id)
        set_field(message, QUOTE_CANCEL_TYPE, CANCEL_FOR_QUOTE_REQUEST)
        self.send(message)

    def _accept_when_due(self) -> None:
        """With --accept-after-ms: accepts each RFQ's best quote shown so far when its time comes."""
        while True:
            with self._lock:
                now = time.monotonic_ns()
                while not self._due or self._due[0][0] > now:
                    timeout = (self._due[0][0] - now) / 1e9 if self._due else None
                    self._due_changed.wait(timeout)
                    now = time.monotonic_ns()
                _, req_id = heapq.heappop(self._due)
                pending = self._pending.get(req_id)
                if pending is None or pending.accepted or pending.best is None:
                    continue
                pending.accepted = True
                quote_id, symbol = pending.best
            self._accept(req_id, quote_id, symbol)

    # -- receiving ----------------------------------------------------------------------------------
    def on_message(self, msg_type: str, message: fix.Message) -> None:
        if msg_type == "S":
            self._on_quote(message)
        elif msg_type == "8":
            self._on_execution(message)
        elif msg_type == "AG":
            text = message.getField(t.TEXT) if message.isSetField(t.TEXT) else ""
            self._end(message.getField(t.QUOTE_REQ_ID), "throttled" if "throttled" in text else "refused")
        elif msg_type == "j":
            if message.isSetField(t.BUSINESS_REJECT_REF_ID):
                self._end(_rfq_of(message.getField(t.BUSINESS_REJECT_REF_ID)), "accept_refused")
        elif msg_type == "AI" and message.getField(t.QUOTE_STATUS) in ("4", "7"):
            self._end(message.getField(t.QUOTE_REQ_ID), "expired")

    def _on_quote(self, quote: fix.Message) -> None:
        """Every quote the gateway shows is the RFQ's best at that moment."""
        req_id = quote.getField(t.QUOTE_REQ_ID)
        now = time.monotonic_ns()
        best = (quote.getField(t.QUOTE_ID), quote.getField(t.SYMBOL))
        with self._lock:
            pending = self._pending.get(req_id)
            if pending is None or pending.accepted or self._phase is None:
                return
            if pending.best is None:
                self._phase.first_quote.record_ns(now - pending.sent_ns)
                if self._accept_after_ns:
                    heapq.heappush(self._due, (now + self._accept_after_ns, req_id))
                    self._due_changed.notify()
            pending.best = best
            if self._accept_after_ns:
                return
            pending.accepted = True
        self._accept(req_id, *best)

    def _on_execution(self, report: fix.Message) -> None:
        exec_type = report.getField(t.EXEC_TYPE)
        if exec_type in ("0", "I"):
            return
        req_id = _rfq_of(report.getField(t.CL_ORD_ID))
        if exec_type == "F":
            if report.getField(t.ORD_STATUS) == "2":
                self._end(req_id, "filled")
            return  # a partial fill: the done report (150=3) ends it
        self._end(req_id, {"3": "partially_filled", "8": "rejected", "C": "expired"}.get(exec_type, "other"))

    def _end(self, req_id: str, outcome: str) -> None:
        now = time.monotonic_ns()
        with self._lock:
            pending = self._pending.pop(req_id, None)
            phase = self._phase
            if pending is None or phase is None:
                return  # an RFQ of an earlier phase, given up at its end
            phase.outcomes[outcome] += 1
            phase.ended += 1
            if outcome == "filled":
                phase.filled.record_ns(now - pending.sent_ns)
                if now <= phase.window_end_ns:
                    phase.completed_in_window += 1
            report_progress = (phase.budget is not None and not phase.progress_reported
                               and phase.ended >= phase.budget * PROGRESS_FRACTION)
            phase.progress_reported |= report_progress
            next_one = phase.closed and phase.issuing
            if not phase.issuing and not self._pending:
                phase.done.set()
        if report_progress:
            self._control_send("progress", {"fraction": PROGRESS_FRACTION, "ended": phase.ended})
        if next_one:
            self.send_request()

    # -- phases -------------------------------------------------------------------------------------
    def run(self, kind: str, params: dict[str, Any]) -> dict[str, Any]:
        """One phase: `closed` (in_flight, duration_s), `open` (rate, duration_s) or `count` (in_flight,
        rfqs); then up to drain_s for the RFQs still open. Returns the phase's figures."""
        before = self.counters()
        cpu_before = own_cpu_s()
        start = time.monotonic_ns()
        duration_ns = int(params.get("duration_s", 0) * 1e9) if kind != "count" else 1 << 62
        phase = Phase(closed=kind != "open", window_end_ns=start + duration_ns,
                      budget=params.get("rfqs") if kind == "count" else None)
        with self._lock:
            self._phase = phase
        if kind == "open":
            pacer = threading.Thread(target=self._pace, args=(phase, params["rate"], start), daemon=True)
            pacer.start()
        else:
            for _ in range(params["in_flight"] if phase.budget is None else min(params["in_flight"], phase.budget)):
                self.send_request()
        if kind != "count":
            time.sleep(max(0.0, (phase.window_end_ns - time.monotonic_ns()) / 1e9))
            self._stop_issuing(phase)
        phase.done.wait(params.get("drain_s", 10.0) if kind != "count" else params.get("timeout_s", 3600.0))
        elapsed_s = (min(time.monotonic_ns(), phase.window_end_ns) - start) / 1e9
        return self._result(phase, before, cpu_before, elapsed_s)

    def _pace(self, phase: Phase, rate: float, start_ns: int) -> None:
        """Open loop: RFQ i is due at start + i/rate; latency counts from when it was due."""
        interval_ns = int(1e9 / rate)
        for index in itertools.count():
            due = start_ns + index * interval_ns
            if due >= phase.window_end_ns or not phase.issuing:
                break
            delay = (due - time.monotonic_ns()) / 1e9
            if delay > 0:
                time.sleep(delay)
            self.send_request(intended_ns=due)

    def _stop_issuing(self, phase: Phase) -> None:
        with self._lock:
            phase.issuing = False
            if not self._pending:
                phase.done.set()

    def _result(self, phase: Phase, before: dict[str, Any], cpu_before: float, elapsed_s: float) -> dict[str, Any]:
        with self._lock:
            self._phase = None
            unfinished = len(self._pending)
            given_up = [req_id for req_id, pending in self._pending.items() if not pending.accepted]
            self._pending.clear()
        for req_id in given_up:  # withdrawn, so that they neither linger at the gateway nor count as open
            self._cancel(req_id)
        after = self.counters()
        return {"sent_rfqs": phase.sent, "outcomes": dict(phase.outcomes), "unfinished": unfinished,
                "completed_in_window": phase.completed_in_window, "window_s": elapsed_s,
                "first_quote": phase.first_quote.to_json(), "filled": phase.filled.to_json(),
                "messages_sent": after["sent"] - before["sent"],
                "messages_received": after["received"] - before["received"],
                "cpu_s": own_cpu_s() - cpu_before, "session_rejects": after["session_rejects"]}


def _limit(reference: str, side: str) -> str:
    """The requester's limit: 10% through the reference price (it takes any sensible quote)."""
    price = float(reference) * (1.1 if side == "1" else 0.9)
    return f"{price:.2f}"


def _rfq_of(cl_ord_id: str) -> str:
    return cl_ord_id[len(ACCEPT_PREFIX):] if cl_ord_id.startswith(ACCEPT_PREFIX) else cl_ord_id
