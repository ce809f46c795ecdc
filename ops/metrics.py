"""Prometheus metrics of the running gateway (README "Metrics").

`GatewayMetrics` owns a registry of its own. Its `observe` is an engine commit observer: it runs
on the engine thread after each commit and only updates counters, gauges and histograms in memory
(cheap, never blocking). Values that live elsewhere are read when Prometheus scrapes: the engine's
queue depth, the FIX sessions (`SessionSource`), the latest reconciliation breaks (one SQL query).
Ledger commit time is timed by SQLAlchemy events on the session factory every component shares.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session, sessionmaker

from gateway.domain.book import Changeset
from gateway.domain.events import SessionLoggedOn, SessionLoggedOut
from gateway.domain.rfq import TERMINAL_STATES, Rfq, RfqState
from ops.sessions_view import SessionSource
from recon.models import ReconBreak, ReconRun

log = structlog.get_logger(__name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds; RFQ windows are a minute or more, fills come within the acceptance window.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


@dataclass
class _OpenRfq:
    state: RfqState
    created_at: datetime
    quoted: bool = False
    quote_ids: list[str] = field(default_factory=list)  # forgotten with the RFQ (their solvers label its fills)


@dataclass
class _RfqTracker:
    """Open RFQs by id (terminal ones are counted and forgotten: their state never changes again)."""

    open: dict[int, _OpenRfq] = field(default_factory=dict)


class GatewayMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.rfqs = Gauge("rfq_gateway_rfqs", "RFQs by state: open ones now, terminal ones since the process started",
                          ["state"], registry=r)
        self.rfqs_received = Counter("rfq_gateway_rfqs_received", "RFQs accepted for quoting (rate: RFQs/s)",
                                     registry=r)
        self.quotes = Counter("rfq_gateway_quotes", "Quotes received from solvers (rate: quotes/s)", ["solver"],
                              registry=r)
        self.fills = Counter("rfq_gateway_fills", "Fills reported by solvers and settled", ["solver"], registry=r)
        self.first_quote = Histogram("rfq_gateway_rfq_first_quote_seconds",
                                     "From the QuoteRequest (R) to the RFQ's first quote", buckets=LATENCY_BUCKETS,
                                     registry=r)
        self.filled = Histogram("rfq_gateway_rfq_filled_seconds", "From the QuoteRequest (R) to Filled",
                                buckets=LATENCY_BUCKETS, registry=r)
        self.commit_seconds = Histogram("rfq_gateway_ledger_commit_seconds",
                                        "Time the database takes to commit one ledger/gateway transaction",
                                        buckets=COMMIT_BUCKETS, registry=r)
        self.logged_on = Gauge("rfq_gateway_session_logged_on_events",
                               "1 after a session's last Logon, 0 after its Logout (engine's view)", ["session"],
                               registry=r)
        self._tracker = _RfqTracker()
        self._quote_solver: dict[str, str] = {}  # quote id -> solver, oldest forgotten first
        self._lock = threading.Lock()  # seed() may run on another thread than observe()
        for state in RfqState:
            self.rfqs.labels(state=state.value)

    # -- the engine side -----------------------------------------------------------------------
    def seed(self, open_rfqs: Iterable[tuple[Rfq, bool]]) -> None:
        """RFQs already open when the process started, each with whether it has a quote already (the
        engine's book, before it starts): in the by-state gauge, not counted as received here."""
        with self._lock:
            for rfq, quoted in open_rfqs:
                if int(rfq.rfq_id) not in self._tracker.open and not rfq.is_terminal:
                    self._tracker.open[int(rfq.rfq_id)] = _OpenRfq(rfq.state, rfq.created_at, quoted)
                    self.rfqs.labels(state=rfq.state.value).inc()

    def observe(self, changes: Changeset) -> None:
        """Commit observer: counts only, on the engine thread."""
        with self._lock:
            for quote in changes.quotes:
                self._see_quote(int(quote.rfq_id), str(quote.solver), quote.received_at, str(quote.quote_id))
            for fill in changes.fills:  # before the RFQ's end forgets its quotes
                self.fills.labels(solver=self._quote_solver.get(str(fill.quote_id), "unknown")).inc()
            for rfq in changes.rfqs:
                self._see_rfq(rfq)
            for domain_event in changes.events:
                if isinstance(domain_event, (SessionLoggedOn, SessionLoggedOut)):
                    self.logged_on.labels(session=domain_event.session).set(
                        1 if isinstance(domain_event, SessionLoggedOn) else 0)

    @property
    def quotes_remembered(self) -> int:
        """Quotes whose solver is kept to label fills: those of open RFQs only (memory stays flat)."""
        return len(self._quote_solver)

    def _see_rfq(self, rfq: Rfq) -> None:
        tracked = self._tracker.open.get(int(rfq.rfq_id))
        if tracked is None:
            if rfq.state in TERMINAL_STATES and rfq.state is not RfqState.REJECTED:
                return  # an RFQ ended before this process saw it open: counted by no one here
            self.rfqs_received.inc()
            tracked = _OpenRfq(rfq.state, rfq.created_at)
            self.rfqs.labels(state=rfq.state.value).inc()
        elif tracked.state is not rfq.state:
            self.rfqs.labels(state=tracked.state.value).dec()
            self.rfqs.labels(state=rfq.state.value).inc()
            tracked.state = rfq.state
        if rfq.state is RfqState.FILLED and rfq.updated_at is not None:
            self.filled.observe(max((rfq.updated_at - rfq.created_at).total_seconds(), 0.0))
        if rfq.state in TERMINAL_STATES:
            self._tracker.open.pop(int(rfq.rfq_id), None)
            for quote_id in tracked.quote_ids:
                self._quote_solver.pop(quote_id, None)
        else:
            self._tracker.open[int(rfq.rfq_id)] = tracked

    def _see_quote(self, rfq_id: int, solver: str, received_at: datetime, quote_id: str) -> None:
        tracked = self._tracker.open.get(int(rfq_id))
        if tracked is not None and not tracked.quoted:
            tracked.quoted = True
            self.first_quote.observe(max((received_at - tracked.created_at).total_seconds(), 0.0))
        if quote_id not in self._quote_solver:
            self._quote_solver[quote_id] = solver
            if tracked is not None:
                tracked.quote_ids.append(quote_id)
            self.quotes.labels(solver=solver).inc()
            while len(self._quote_solver) > MAX_QUOTES_REMEMBERED:
                self._quote_solver.pop(next(iter(self._quote_solver)))

    # -- timing the database ---------------------------------------------------------------
    def time_commits(self, sessions: sessionmaker[Session]) -> None:
        """Histogram of every commit of a session made by this factory (the ledger's transactions)."""
        started = threading.local()

        def before_commit(session: Session) -> None:
            started.at = time.perf_counter()

        def after_commit(session: Session) -> None:
            at = getattr(started, "at", None)
            if at is not None:
                self.commit_seconds.observe(time.perf_counter() - at)
                started.at = None

        event.listen(sessions, "before_commit", before_commit)
        event.listen(sessions, "after_commit", after_commit)

    # -- read when scraped ------------------------------------------------------------------
    def watch(self, queue_depth: Callable[[], int] | None = None, sessions: SessionSource | None = None,
              database: sessionmaker[Session] | None = None) -> None:
        if queue_depth is not None:
            Gauge("rfq_gateway_engine_queue_depth", "Commands waiting for the RFQ engine",
                  registry=self.registry).set_function(lambda: float(queue_depth()))
        if sessions is not None:
            self.registry.register(_SessionCollector(sessions))
        if database is not None:
            self.registry.register(_ReconCollector(database))

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


MAX_QUOTES_REMEMBERED = 100_000


class _SessionCollector(Collector):
    def __init__(self, source: SessionSource) -> None:
        self._source = source

    def collect(self) -> Iterable[GaugeMetricFamily]:
        up = GaugeMetricFamily("rfq_gateway_session_up", "1 while a FIX session is logged on now",
                               labels=["session", "role"])
        sent = GaugeMetricFamily("rfq_gateway_session_next_sender_seq",
                                 "Next MsgSeqNum the gateway sends on a session", labels=["session"])
        received = GaugeMetricFamily("rfq_gateway_session_next_target_seq",
                                     "Next MsgSeqNum the gateway expects from the counterparty", labels=["session"])
        for row in self._source.live_rows():
            up.add_metric([row.comp_id, row.role], 1.0 if row.logged_on else 0.0)
            if row.next_sender_seq is not None:
                sent.add_metric([row.comp_id], float(row.next_sender_seq))
            if row.next_target_seq is not None:
                received.add_metric([row.comp_id], float(row.next_target_seq))
        return [up, sent, received]


class _ReconCollector(Collector):
    def __init__(self, database: sessionmaker[Session]) -> None:
        self._database = database

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = GaugeMetricFamily("rfq_gateway_recon_breaks", "Breaks of the latest reconciliation run, by kind",
                                   labels=["kind"])
        try:
            with self._database() as session:
                latest = session.scalar(select(func.max(ReconRun.id)))
                rows = [] if latest is None else session.execute(
                    select(ReconBreak.kind, func.count()).where(ReconBreak.run_id == latest)
                    .group_by(ReconBreak.kind)).all()
        except Exception:  # noqa: BLE001 - a scrape never fails on the database
            log.warning("recon_metrics_unavailable", exc_info=True)
            return [family]
        for kind, count in rows:
            family.add_metric([kind], float(count))
        return [family]
