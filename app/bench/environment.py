"""The bench's own world: a fresh data directory and database, free loopback ports, and the
counterparties it logs on as (requesters BREQ1..n, solvers BSOL1..m, funded without bound), given
to every process it starts through the environment, like the integration tests do."""
from __future__ import annotations

import json
import os
import secrets
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from app.settings import DEFAULT_CONFIG, PROJECT_ROOT, Settings
from app.stack import free_port

# A regular US session moment (Tuesday 2026-11-17, 10:00 New York): every process runs on a
# simulated wall clock from here, so market-hours gating lets RFQs through whenever the bench runs.
SIMULATED_START = "2026-11-17T15:00:00+00:00"
CASH = "1000000000000.00"  # nobody runs out of money or shares, however long the run
SHARES = "1000000000"
# The per-counterparty rate limit (1,000 messages/s by default) must not cap a run: a solver gets every
# RFQ. queue_limit and max_open_rfqs stay as configured: they are overload answers the bench counts.
BENCH_SESSION_LIMITS = {"messages_per_s": 100_000, "burst": 100_000}
REQUESTER_PREFIX = "BREQ"
SOLVER_PREFIX = "BSOL"


@dataclass(frozen=True)
class Counterparty:
    comp_id: str
    password: str


@dataclass
class BenchWorld:
    run: str  # this run's token: in QuoteReqIDs, passwords and the scratch database's name
    data_dir: Path
    database_url: str
    gateway_port: int
    venue_port: int
    gateway_comp_id: str
    requesters: list[Counterparty]
    solvers: list[Counterparty]
    reference_prices: dict[str, str]  # symbol -> configured reference price
    environment: dict[str, str] = field(default_factory=dict)
    scratch_database: tuple[str, str] | None = None  # (server admin URL, database name) to drop at the end

    def fix_log_dir(self) -> Path:
        return self.data_dir / "fix" / "gateway" / "log"


def build_world(data_dir: Path, requesters: int, solvers: int, database_url: str | None) -> BenchWorld:
    settings = Settings()
    run = secrets.token_hex(4)
    requester_list = [Counterparty(f"{REQUESTER_PREFIX}{n}", f"bench-{run}-{n}") for n in range(1, requesters + 1)]
    solver_list = [Counterparty(f"{SOLVER_PREFIX}{n}", f"bench-{run}-s{n}") for n in range(1, solvers + 1)]
    scratch = None
    if database_url is None:
        url = f"sqlite+pysqlite:///{(data_dir / 'rfq.sqlite3').resolve()}"
    else:
        url, scratch = create_scratch_database(database_url, run)
    world = BenchWorld(run=run, data_dir=data_dir, database_url=url, gateway_port=free_port(), venue_port=free_port(),
                       gateway_comp_id=settings.gateway.comp_id, requesters=requester_list, solvers=solver_list,
                       reference_prices={i.symbol: str(i.reference_price) for i in settings.instruments},
                       scratch_database=scratch)
    world.environment = child_environment(world, settings)
    return world


def child_environment(world: BenchWorld, settings: Settings) -> dict[str, str]:
    """The environment of the gateway, venue and connector processes: the configured counterparties
    plus the bench's own (sessions, accounts, funding replace the config file's lists, so they are
    read from it and extended)."""
    raw = tomllib.loads(Path(os.environ.get("RFQ_CONFIG", DEFAULT_CONFIG)).read_text())
    bench = world.requesters + world.solvers
    sessions = raw.get("sessions", []) + [
        {"comp_id": c.comp_id, "role": "requester" if c in world.requesters else "solver", "account": c.comp_id,
         "username": c.comp_id, "password": c.password, "limits": BENCH_SESSION_LIMITS} for c in bench]
    accounts = raw.get("accounts", []) + [
        {"account": c.comp_id, "stocks_enabled": True, "jurisdiction": "US"} for c in bench]
    assets = ["USDC", *world.reference_prices]
    funding = raw.get("funding", []) + [
        {"account": c.comp_id, "asset": asset, "amount": CASH if asset == "USDC" else SHARES}
        for c in bench for asset in assets]
    # The caller's RFQ_* overrides apply (e.g. RFQ_FIX__STORE=memory); no MQTT publishing.
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DATABASE_URL", "MQTT_URL", "RFQ_DATABASE_URL", "RFQ_MQTT_URL")}
    python_path = [str(PROJECT_ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    environment.update({
        "PYTHONPATH": os.pathsep.join(python_path),
        "RFQ_CONFIG": os.environ.get("RFQ_CONFIG", str(DEFAULT_CONFIG)),
        "DATABASE_URL": world.database_url,
        "RFQ_DATA_DIR": str(world.data_dir),
        "RFQ_GATEWAY__PORT": str(world.gateway_port),
        "RFQ_VENUE__PORT": str(world.venue_port),
        "RFQ_CONSOLE__PORT": "0",  # any free port: a console already on the configured one must not stop the run
        "RFQ_SIMULATED_START": SIMULATED_START,
        "RFQ_LOG_FORMAT": "json",
        "RFQ_SESSIONS": json.dumps(sessions),
        "RFQ_ACCOUNTS": json.dumps(accounts),
        "RFQ_FUNDING": json.dumps(funding, default=str),
    })
    return environment


def create_scratch_database(server_url: str, run: str) -> tuple[str, tuple[str, str]]:
    """A fresh database `bench_<run>` on the PostgreSQL server of `server_url` (dropped at the end),
    so a run never meets an earlier run's ids or sequence numbers."""
    url = make_url(server_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"--database-url must be a PostgreSQL URL, got {url.get_backend_name()}")
    name = f"bench_{run}"
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False), (server_url, name)


def drop_scratch_database(world: BenchWorld) -> None:
    if world.scratch_database is None:
        return
    server_url, name = world.scratch_database
    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()
