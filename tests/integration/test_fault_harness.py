"""The fault harness (README "Sessions and recovery"): the venue, the gateway, the broker connector
and a requester run as real processes; seeded SIGKILLs hit each of them at random moments and the
victim is restarted. Afterwards every RFQ is terminal, the ledger balances, every venue execution
reached the broker, every acknowledged venue fill is settled exactly once, every message the
requester sent was processed, and the requester received the final ExecutionReport (or final
status) of every RFQ, live or by resend.

A bounded run is part of the test command; `RFQ_FAULT_ROUNDS=40 RFQ_FAULT_RFQS=400` (and
`RFQ_FAULT_SEED`) make a long one.
"""
from __future__ import annotations

import os
import random
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from gateway.models import RfqRow
from tests.fault.checks import TERMINAL_STATES, check_all
from tests.fault.cluster import Cluster
from tests.integration.conftest import REGULAR_SESSION, free_port, wait_until
from tests.rawfix import RawFixSession

pytestmark = pytest.mark.fix
ROUNDS = int(os.environ.get("RFQ_FAULT_ROUNDS", "8"))
RFQS = int(os.environ.get("RFQ_FAULT_RFQS", "60"))
SEED = int(os.environ.get("RFQ_FAULT_SEED", "20261129"))
VICTIMS = ("gateway", "broker", "venue", "requester")
START_TIMEOUT_S = 60.0
SETTLE_TIMEOUT_S = 150.0  # the gateway's settlement timeout (60 s) and the broker's order timers, with room


def _listening(port: int) -> bool:
    try:
        with RawFixSession(port, "nobody").connect():
            return True
    except OSError:
        return False


def _start(cluster: Cluster, name: str) -> None:
    cluster.start(name)
    port = {"venue": cluster.venue_port, "gateway": cluster.gateway_port}.get(name)
    if port is not None:
        wait_until(lambda: _listening(port) or not cluster.alive(name), START_TIMEOUT_S, what=f"{name} listening")
        assert cluster.alive(name), f"{name} exited at start; see {cluster.workdir}"


def _broker_ready(cluster: Cluster) -> bool:
    """The connector logged on to both sides and reconciled with the venue: it quotes from now on."""
    logs = sorted(cluster.workdir.glob("broker-*.log"))
    return bool(logs) and '"broker_reconciled"' in logs[-1].read_text()


def _requester_done(cluster: Cluster) -> bool:
    return cluster.journal.exists() and '"done": true' in cluster.journal.read_text()


def _all_terminal(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        with Session(engine) as session:
            states = session.scalars(select(RfqRow.state)).all()
    finally:
        engine.dispose()
    return all(state in TERMINAL_STATES for state in states)


def run_harness(workdir: Path, url: str) -> None:
    rng = random.Random(SEED)
    cluster = Cluster(workdir, REGULAR_SESSION, free_port(), free_port(), url, requester_count=RFQS)
    (workdir / "var").mkdir(parents=True, exist_ok=True)
    try:
        for name in ("venue", "gateway", "broker"):
            _start(cluster, name)
        wait_until(lambda: _broker_ready(cluster), START_TIMEOUT_S, what="the broker connector ready")
        _start(cluster, "requester")
        # Every process is killed in turn (a seeded order per cycle), at seeded random moments.
        victims = [name for _ in range(ROUNDS // len(VICTIMS) + 1) for name in rng.sample(VICTIMS, len(VICTIMS))]
        for round_number, victim in enumerate(victims[:ROUNDS]):
            time.sleep(rng.uniform(0.5, 3.0))
            cluster.kill(victim)
            time.sleep(rng.uniform(0.0, 1.0))
            _start(cluster, victim)
            print(f"round {round_number + 1}: killed and restarted {victim}")
        wait_until(lambda: _requester_done(cluster), 120, what="the requester sent every RFQ")
        wait_until(lambda: _all_terminal(url), SETTLE_TIMEOUT_S, what="every RFQ terminal")
        time.sleep(2.0)  # the last reports reach the requester
    finally:
        codes = cluster.stop_all()
    assert all(code == 0 for code in codes.values()), (codes, workdir)
    outcome = check_all(url, workdir / "var", cluster.journal)
    print(f"fault harness, seed {SEED}, {ROUNDS} kills: {outcome.summary()}")
    assert not outcome.problems, outcome.problems[:20]


def test_seeded_kills_of_every_process_lose_and_double_nothing(tmp_path: Path, empty_db_url: str) -> None:
    run_harness(tmp_path, empty_db_url)
