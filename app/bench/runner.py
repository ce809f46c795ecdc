"""`rfq-gateway bench`: starts the venue, the gateway (and the broker connector) as processes of their
own with a fresh database, logs on N requester and M solver load processes, runs closed-loop
saturation (or a fixed count), open-loop rates and a raw QuickFIX echo, and reports."""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy.engine import make_url

from app.bench.echo import ECHO_ACCEPTOR_COMP_ID, ECHO_INITIATOR_COMP_ID
from app.bench.environment import BenchWorld, build_world, drop_scratch_database
from app.bench.fixload import LoadSpec
from app.bench.processes import START_TIMEOUT_S, BenchError, LoadProcess, ServiceProcess, collect, stop_all
from app.bench.procstat import FixLogCounter, ProcSample
from app.bench.report import PhaseFigures, echo_ratio, phase_figures, render, write_json
from app.settings import Settings
from app.stack import free_port
from db.engine import upgrade_to_head

SETTLE_S = 1.0  # after the load processes log on, for the engine to take the logons in
BROKER_LOGON_TIMEOUT_S = 60.0
RESULT_GRACE_S = 60.0  # beyond a phase's duration and drain, for the processes' reports
QUIET_S = 1.0  # a phase starts once the gateway has logged no message for this long (the last one's backlog is done)
QUIET_MAX_WAIT_S = 60.0


@dataclass
class BenchOptions:
    requesters: int = 2
    solvers: int = 2
    in_flight: int = 8
    duration_s: float = 10.0
    rates: list[float] = field(default_factory=lambda: [50.0, 100.0, 200.0])
    database_url: str | None = None
    with_broker: bool = False
    json_path: Path | None = None
    rfqs: int | None = None  # count mode: this many RFQs closed loop instead of duration_s
    warmup_s: float = 2.0
    drain_s: float = 10.0
    echo: bool = True
    keep_data: bool = False
    accept_after_ms: float = 0.0  # 0: requesters accept the first quote shown, else the best shown this long after

    def check(self) -> None:
        if self.requesters < 1 or self.in_flight < 1 or self.duration_s <= 0:
            raise ValueError("--requesters, --in-flight and --duration-s must be positive")
        if self.solvers < 0 or (self.solvers == 0 and not self.with_broker):
            raise ValueError("--solvers must be at least 1 (or 0 with --with-broker: the connector quotes alone)")
        if self.rfqs is not None and self.rfqs < self.requesters:
            raise ValueError("--rfqs must be at least one per requester")
        if self.accept_after_ms < 0:
            raise ValueError("--accept-after-ms must not be negative")
        if any(rate <= 0 for rate in self.rates):
            raise ValueError("--rates must be positive RFQs/s")


@dataclass
class Run:
    world: BenchWorld
    options: BenchOptions
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    requesters: list[LoadProcess] = field(default_factory=list)
    solvers: list[LoadProcess] = field(default_factory=list)
    echo: list[LoadProcess] = field(default_factory=list)

    def monitored(self) -> dict[str, Any]:
        """Every process measured from /proc, by display name."""
        return {**self.services, **{p.name: p for p in self.requesters + self.solvers + self.echo}}

    def samples(self) -> dict[str, ProcSample | None]:
        return {name: process.sample() for name, process in self.monitored().items()}


def run_bench(options: BenchOptions, out: TextIO) -> int:
    options.check()
    data_dir = Path(tempfile.mkdtemp(prefix="rfq-bench-"))
    world = build_world(data_dir, options.requesters, options.solvers, options.database_url)
    run = Run(world, options)
    print(f"bench: data in {data_dir}; database {_database_label(world.database_url)}", file=out, flush=True)
    succeeded = False
    try:
        results = _measure(run, out)
        succeeded = True
    finally:
        _stop_all(run)
        drop_scratch_database(world)
        if succeeded and not options.keep_data:
            shutil.rmtree(data_dir, ignore_errors=True)
        elif not succeeded:
            print(f"bench: failed; the processes' logs are in {data_dir}", file=out, flush=True)
    out.write(render(results))
    out.flush()
    if options.json_path is not None:
        write_json(options.json_path, results)
    return 0


def _measure(run: Run, out: TextIO) -> dict[str, Any]:
    options = run.options
    _start_processes(run)
    counter = FixLogCounter(run.world.fix_log_dir())
    print(f"bench: {len(run.requesters)} requesters, {len(run.solvers)} solvers logged on; warming up",
          file=out, flush=True)
    warm_up = _phase(run, counter, "warm-up", "closed", {"in_flight": options.in_flight,
                                                         "duration_s": options.warmup_s})
    if not warm_up.outcomes.get("filled"):
        print(f"bench: warning: no RFQ was filled during the warm-up ({warm_up.outcomes or 'no answers'})",
              file=out, flush=True)
    phases: list[PhaseFigures] = []
    memory: dict[str, Any] = {}
    if options.rfqs is not None:
        phases.append(_count_phase(run, counter, memory))
    else:
        phases.append(_phase(run, counter, f"closed K={options.in_flight}", "closed",
                             {"in_flight": options.in_flight, "duration_s": options.duration_s}))
    print(f"bench: {phases[-1].label}: {phases[-1].completed_per_s:.1f} RFQs/s", file=out, flush=True)
    for rate in options.rates:
        phases.append(_phase(run, counter, f"open {rate:g}/s", "open",
                             {"rate": rate / options.requesters, "duration_s": options.duration_s}, offered=rate))
        print(f"bench: {phases[-1].label}: {phases[-1].completed_per_s:.1f} RFQs/s", file=out, flush=True)
    echo = _echo(run) if options.echo else None
    results: dict[str, Any] = {
        "options": _options_json(options), "database": _database_label(run.world.database_url),
        "phases": [phase.to_json() for phase in phases], "echo": echo, "memory": memory,
        "processes": _process_table(run)}
    results["gateway_to_echo_ratio"] = echo_ratio(results)
    return results


def _database_label(url: str) -> str:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return "SQLite"
    return f"PostgreSQL {parsed.host}:{parsed.port or 5432}/{parsed.database}"


def _start_processes(run: Run) -> None:
    """The gateway first (it migrates the database and seeds the reference data the venue reads), the
    load processes meanwhile (they retry their connections and report once logged on), then the venue."""
    world = run.world
    upgrade_to_head(world.database_url)  # here, so no two processes ever migrate at once
    gateway = ServiceProcess("gateway", ["serve", "--without-broker", "--venue", "external"], world).start()
    run.services["gateway"] = gateway
    _define_load(run)
    loads = run.solvers + run.requesters + run.echo
    for process in loads:
        process.start()
    gateway.wait_listening(world.gateway_port)
    venue = ServiceProcess("venue", ["venue", "run"], world).start()
    run.services["venue"] = venue
    venue.wait_listening(world.venue_port)
    if run.options.with_broker:
        _start_broker(run)
    for process in loads:
        process.expect("ready", START_TIMEOUT_S)
    time.sleep(SETTLE_S)


def _start_broker(run: Run) -> None:
    broker = ServiceProcess("broker", ["broker", "run"], run.world).start()
    run.services["broker"] = broker
    counter = FixLogCounter(run.world.fix_log_dir())
    deadline = time.monotonic() + BROKER_LOGON_TIMEOUT_S
    while not counter.saw_logon(Settings().broker.comp_id):
        broker.check_alive()
        if time.monotonic() > deadline:
            raise BenchError(f"the broker connector did not log on within {BROKER_LOGON_TIMEOUT_S} s")
        time.sleep(0.2)


def _define_load(run: Run) -> None:
    world = run.world
    folder = str(world.data_dir / "load")
    common = {"reference_prices": world.reference_prices, "run_id": world.run,
              "accept_after_ms": run.options.accept_after_ms}
    run.solvers = [LoadProcess(c.comp_id, LoadSpec("solver", c.comp_id, world.gateway_comp_id, world.gateway_port,
                                                   folder, c.password, options={**common, "index": index}),
                               world.environment)
                   for index, c in enumerate(world.solvers)]
    run.requesters = [LoadProcess(c.comp_id, LoadSpec("requester", c.comp_id, world.gateway_comp_id,
                                                      world.gateway_port, folder, c.password, options=common),
                                  world.environment)
                      for c in world.requesters]
    if run.options.echo:
        port = free_port()
        store = Settings().fix.store  # the gateway's store kind: the same QuickFIX work per message
        folder = str(world.data_dir / "echo")
        run.echo = [
            LoadProcess("echo-acceptor", LoadSpec("echo-acceptor", ECHO_ACCEPTOR_COMP_ID, ECHO_INITIATOR_COMP_ID,
                                                  port, folder, store=store), world.environment),
            LoadProcess("echo-initiator", LoadSpec("echo-initiator", ECHO_INITIATOR_COMP_ID, ECHO_ACCEPTOR_COMP_ID,
                                                   port, folder, store=store), world.environment)]


def _phase(run: Run, counter: FixLogCounter, label: str, kind: str, params: dict[str, Any],
           offered: float | None = None) -> PhaseFigures:
    """One timed phase: CPU and the gateway's messages are measured over exactly the window."""
    params = {**params, "drain_s": run.options.drain_s}
    quiet = _quiesce(counter)
    before, messages_before, solvers_before = run.samples(), counter.poll(), _solver_stats(run)
    started = time.monotonic()
    for requester in run.requesters:
        requester.send(kind, params)
    time.sleep(params["duration_s"])
    window_s = time.monotonic() - started
    for service in run.services.values():
        service.check_alive()  # a crashed gateway ends the run with its log, not with a timeout
    after, messages_after, solvers_after = run.samples(), counter.poll(), _solver_stats(run)
    results = collect(run.requesters, "result", params["duration_s"] + run.options.drain_s + RESULT_GRACE_S)
    load_messages = _load_messages(results, solvers_before, solvers_after)
    figures = phase_figures(label, offered, params["duration_s"], window_s, results, before, after,
                            messages_after - messages_before, load_messages)
    figures.started_quiet = quiet
    return figures


def _count_phase(run: Run, counter: FixLogCounter, memory: dict[str, Any]) -> PhaseFigures:
    """Count mode: `rfqs` RFQs closed loop; the gateway's RSS when 10% of them have ended, and at the end."""
    options = run.options
    assert options.rfqs is not None
    share, extra = divmod(options.rfqs, options.requesters)
    budgets = [share + (1 if index < extra else 0) for index in range(options.requesters)]
    _quiesce(counter)
    before, messages_before, solvers_before = run.samples(), counter.poll(), _solver_stats(run)
    started = time.monotonic()
    progressed: set[str] = set()
    gateway = run.services["gateway"]

    def on_progress(process: LoadProcess, kind: str, payload: dict[str, Any]) -> None:
        if kind == "progress":
            progressed.add(process.name)
            if len(progressed) == len(run.requesters):
                memory["gateway_rss_kb_at_10pct"] = _rss(gateway.sample())

    for requester, budget in zip(run.requesters, budgets):
        requester.send("count", {"in_flight": min(options.in_flight, max(budget, 1)), "rfqs": budget,
                                 "timeout_s": max(600.0, budget * 1.0)})
    results = collect(run.requesters, "result", max(600.0, options.rfqs * 1.0) + RESULT_GRACE_S, on_progress)
    window_s = time.monotonic() - started
    memory["gateway_rss_kb_at_100pct"] = _rss(gateway.sample())
    memory["rfqs"] = options.rfqs
    after, messages_after, solvers_after = run.samples(), counter.poll(), _solver_stats(run)
    return phase_figures(f"count {options.rfqs} K={options.in_flight}", None, window_s, window_s, results, before,
                         after, messages_after - messages_before,
                         _load_messages(results, solvers_before, solvers_after))


def _quiesce(counter: FixLogCounter) -> bool:
    """Waits until the gateway has been quiet for QUIET_S (at most QUIET_MAX_WAIT_S), so that a phase
    is not measured while the gateway still works off what an overloaded earlier phase left queued.
    False when it was still busy at the end of the wait."""
    deadline = time.monotonic() + QUIET_MAX_WAIT_S
    last, quiet_since = counter.poll(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now_total = counter.poll()
        if now_total != last:
            last, quiet_since = now_total, time.monotonic()
        elif time.monotonic() - quiet_since >= QUIET_S:
            return True
    return False


def _rss(sampled: ProcSample | None) -> int | None:
    return sampled.rss_kb if sampled is not None else None


def _solver_stats(run: Run) -> list[dict[str, Any]]:
    for solver in run.solvers:
        solver.send("stats")
    return collect(run.solvers, "stats", RESULT_GRACE_S)


def _load_messages(results: list[dict[str, Any]], solvers_before: list[dict[str, Any]],
                   solvers_after: list[dict[str, Any]]) -> int:
    """What the bench's own sessions sent to and received from the gateway (not the connector's)."""
    requesters = sum(r["messages_sent"] + r["messages_received"] for r in results)
    solvers = sum(a["sent"] + a["received"] - b["sent"] - b["received"] for a, b in zip(solvers_after, solvers_before))
    return requesters + solvers


def _echo(run: Run) -> dict[str, Any]:
    """The raw QuickFIX echo between two processes (logged on since the start, idle until now)."""
    options = run.options
    initiator = run.echo[1]
    before = {p.name: p.sample() for p in run.echo}
    initiator.send("echo", {"in_flight": options.in_flight, "duration_s": options.duration_s})
    time.sleep(options.duration_s)
    after = {p.name: p.sample() for p in run.echo}
    result = initiator.expect("result", options.duration_s + RESULT_GRACE_S)
    cpu = {name: _cpu_delta(before[name], after[name]) for name in before}
    return {**result, "in_flight": options.in_flight, "store": initiator.spec.store, "cpu_s": cpu}


def _cpu_delta(before: ProcSample | None, after: ProcSample | None) -> float | None:
    return after.cpu_s - before.cpu_s if before is not None and after is not None else None


def _process_table(run: Run) -> list[dict[str, Any]]:
    """Per process: CPU seconds and peak RSS from /proc; load processes also say what they measured
    of themselves (so a saturated load generator shows)."""
    loads = run.requesters + run.solvers + run.echo
    for process in loads:
        process.send("stats")
    own = {process.name: stats for process, stats in zip(loads, collect(loads, "stats", RESULT_GRACE_S))}
    rows = []
    for name, process in run.monitored().items():
        sampled = process.sample()
        rows.append({"process": name, "pid": process.pid, "cpu_s": sampled.cpu_s if sampled else None,
                     "peak_rss_kb": sampled.peak_rss_kb if sampled else None,
                     "self_reported": own.get(name)})
    return rows


def _stop_all(run: Run) -> None:
    stop_all(run.requesters + run.solvers + run.echo)
    services = [run.services[name] for name in ("broker", "gateway", "venue") if name in run.services]
    for service in services:
        service.terminate()
    for service in services:
        service.stop()


def _options_json(options: BenchOptions) -> dict[str, Any]:
    return {"requesters": options.requesters, "solvers": options.solvers, "in_flight": options.in_flight,
            "duration_s": options.duration_s, "rates": options.rates, "with_broker": options.with_broker,
            "rfqs": options.rfqs, "accept_after_ms": options.accept_after_ms,
            "database": "postgresql" if options.database_url else "sqlite"}
