"""The venue's QuickFIX acceptor application.

QuickFIX callbacks only decode the message (which is valid only during the callback) and
enqueue a command; one venue worker thread owns the matching engine, applies the configured
latency and sends every report. Nothing heavy ever runs on a QuickFIX thread.
"""
from __future__ import annotations

import heapq
import itertools
import queue
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Union

import quickfix as fix

from transport.fix.application import GuardedApplication, send, session_label
from venue_sim import fix_codec
from venue_sim.errors import VenueConfigError
from venue_sim.events import OrderAccepted, OrderCanceled, OrderFilled, VenueEvent
from venue_sim.fix_codec import CancelOrder, NewOrder, QueryMassStatus, QueryStatus, UndecodableOrder
from venue_sim.matching import MatchingEngine
from venue_sim.store import VenueStore

DEFAULT_QUEUE_SIZE = 1024
STOP_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class ClientRequest:
    owner: str
    command: fix_codec.VenueCommand


@dataclass(frozen=True)
class MarketUpdated:
    pass


@dataclass(frozen=True)
class StopWorker:
    pass


WorkerJob = Union[ClientRequest, MarketUpdated, StopWorker]


def owner_of(session_id: fix.SessionID) -> str:
    """Orders belong to the client's CompID (the acceptor session's TargetCompID)."""
    return session_id.getTargetCompID().getValue()


class VenueApplication(GuardedApplication):
    def __init__(self, engine: MatchingEngine, clock: Callable[[], datetime], latency_s: float = 0.0,
                 queue_size: int = DEFAULT_QUEUE_SIZE, store: VenueStore | None = None) -> None:
        """`store`: where executions and order changes are written before they are reported."""
        super().__init__(__name__)
        if latency_s < 0:
            raise VenueConfigError(f"venue latency {latency_s} s cannot be negative")
        if queue_size <= 0:
            raise VenueConfigError(f"job queue size {queue_size}: the queue must be bounded by a positive size")
        self._engine = engine
        self._clock = clock
        self._store = store
        self._latency_s = latency_s
        self._jobs: queue.Queue[WorkerJob] = queue.Queue(maxsize=queue_size)
        self._max_delayed = queue_size
        # (due monotonic time, sequence, owner, ClOrdID): accepted orders waiting out the latency.
        self._delayed: list[tuple[float, int, str, str]] = []
        self._sequence = itertools.count()
        self._sessions: dict[str, fix.SessionID] = {}
        self._sessions_lock = threading.Lock()
        self._update_pending = threading.Event()
        self._status_ids = itertools.count(1)
        self._worker = threading.Thread(target=self._run, name="venue-worker", daemon=True)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        if not self._worker.is_alive():
            return
        try:
            self._jobs.put(StopWorker(), timeout=STOP_TIMEOUT_S)
        except queue.Full:
            self.log.error("venue_worker_stop_queue_full")
        self._worker.join(timeout=STOP_TIMEOUT_S)

    def notify_market_update(self) -> None:
        """Called by the ticker after a step; at most one update waits in the queue at a time."""
        if self._update_pending.is_set():
            return
        self._update_pending.set()
        try:
            self._jobs.put_nowait(MarketUpdated())
        except queue.Full:
            self._update_pending.clear()
            self.log.warning("venue_market_update_dropped", reason="job queue full")

    # -- QuickFIX callbacks (QuickFIX threads) -------------------------------------------------
    def handle_create(self, session_id: fix.SessionID) -> None:
        with self._sessions_lock:
            self._sessions[owner_of(session_id)] = session_id

    def handle_logon(self, session_id: fix.SessionID) -> None:
        self.log.info("venue_session_logon", session=session_label(session_id))

    def handle_logout(self, session_id: fix.SessionID) -> None:
        self.log.info("venue_session_logout", session=session_label(session_id))

    def handle_from_app(self, message: fix.Message, session_id: fix.SessionID) -> None:
        command = fix_codec.decode(message)
        owner = owner_of(session_id)
        try:
            self._jobs.put_nowait(ClientRequest(owner, command))
        except queue.Full:
            self.log.warning("venue_busy", session=session_label(session_id), command=type(command).__name__)
            self._send(owner, self._busy_reply(command))

    def _busy_reply(self, command: fix_codec.VenueCommand) -> fix.Message:
        text = "venue busy: request queue full"
        now = self._clock()
        if isinstance(command, NewOrder | UndecodableOrder):
            return fix_codec.encode_order_reject(command.cl_ord_id, command.symbol, command.side,
                                                 self._status_exec_id(), now, fix_codec.OTHER_REASON, text)
        ref_type = {CancelOrder: "F", QueryStatus: "H", QueryMassStatus: "AF"}[type(command)]
        return fix_codec.encode_business_reject(ref_type, None, text)

    # -- venue worker thread ------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            job = self._next_job()
            if isinstance(job, StopWorker):
                return
            try:
                if job is not None:
                    self._handle(job)
                self._execute_due_orders()
            except Exception:  # noqa: BLE001 - one bad job must not stop the venue
                self.log.exception("venue_job_failed", job=repr(job))

    def _next_job(self) -> WorkerJob | None:
        timeout_s = None
        if self._delayed:
            timeout_s = max(0.0, self._delayed[0][0] - time.monotonic())
        try:
            return self._jobs.get(timeout=timeout_s)
        except queue.Empty:
            return None

    def _handle(self, job: WorkerJob) -> None:
        if isinstance(job, MarketUpdated):
            self._update_pending.clear()
            self._send_events(self._engine.on_market_update())
            return
        assert isinstance(job, ClientRequest), job
        command, owner = job.command, job.owner
        if isinstance(command, NewOrder):
            self._new_order(owner, command)
        elif isinstance(command, UndecodableOrder):
            self._send(owner, fix_codec.encode_undecodable(command, self._status_exec_id(), self._clock()))
        elif isinstance(command, CancelOrder):
            self._send_events(self._engine.cancel(command.orig_cl_ord_id, command.cl_ord_id, owner=owner))
        elif isinstance(command, QueryStatus):
            self._order_status(owner, command)
        elif isinstance(command, QueryMassStatus):
            self._mass_status(owner, command)

    def _new_order(self, owner: str, command: NewOrder) -> None:
        if len(self._delayed) >= self._max_delayed:
            text = "venue busy: too many orders awaiting execution"
            self._send(owner, fix_codec.encode_order_reject(command.cl_ord_id, command.symbol, command.side,
                                                            self._status_exec_id(), self._clock(),
                                                            fix_codec.OTHER_REASON, text))
            return
        events = self._engine.accept(command.cl_ord_id, command.symbol, command.side, command.quantity,
                                     command.limit_price, command.time_in_force, owner=owner,
                                     order_type=command.order_type)
        self._send_events(events)
        if not isinstance(events[-1], OrderAccepted):
            return
        if self._latency_s == 0:
            self._send_events(self._engine.execute(command.cl_ord_id, owner=owner))
        else:
            due = time.monotonic() + self._latency_s
            heapq.heappush(self._delayed, (due, next(self._sequence), owner, command.cl_ord_id))

    def _execute_due_orders(self) -> None:
        now = time.monotonic()
        while self._delayed and self._delayed[0][0] <= now:
            _, _, owner, cl_ord_id = heapq.heappop(self._delayed)
            self._send_events(self._engine.execute(cl_ord_id, owner=owner))

    def _order_status(self, owner: str, query: QueryStatus) -> None:
        order = self._engine.status(query.cl_ord_id, owner=owner)
        now = self._clock()
        if order is None:
            self._send(owner, fix_codec.encode_unknown_status(query, self._status_exec_id(), now))
        else:
            self._send(owner, fix_codec.encode_status(order, self._status_exec_id(), now))

    def _mass_status(self, owner: str, query: QueryMassStatus) -> None:
        orders = [o for o in self._engine.orders(owner) if query.symbol is None or o.symbol == query.symbol]
        now = self._clock()
        if not orders:
            self._send(owner, fix_codec.encode_business_reject("AF", query.mass_status_req_id,
                                                               "no orders match the mass status request"))
            return
        for number, order in enumerate(orders, start=1):
            self._send(owner, fix_codec.encode_mass_status(order, self._status_exec_id(), now,
                                                           query.mass_status_req_id, len(orders),
                                                           is_last=number == len(orders)))

    def _status_exec_id(self) -> str:
        """ExecIDs for reports that are not executions (status, boundary rejects)."""
        return f"S{self._clock():%Y%m%d%H%M%S}-{next(self._status_ids)}"

    def _send_events(self, events: Iterable[VenueEvent]) -> None:
        for event in events:
            self._persist(event)
            self._send(event.owner, fix_codec.encode_event(event))

    def send_events(self, events: Iterable[VenueEvent]) -> None:
        """Report events decided outside the worker (the cancels of a restart), before the worker runs."""
        self._send_events(events)

    def _persist(self, event: VenueEvent) -> None:
        """An exchange's durability: what a report tells the client is on disk before it is sent."""
        if self._store is None:
            return
        if isinstance(event, OrderFilled):
            self._store.record_fill(event.fill)
        if isinstance(event, OrderAccepted | OrderFilled | OrderCanceled):
            self._store.save_order(event.order)

    def _send(self, owner: str, message: fix.Message) -> None:
        with self._sessions_lock:
            session_id = self._sessions.get(owner)
        if session_id is None or not send(message, session_id):
            self.log.warning("venue_report_not_sent", owner=owner, reason="session not logged on")
