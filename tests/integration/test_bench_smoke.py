"""`rfq-gateway bench` end to end, briefly: the venue and gateway as processes, one requester and two
solvers as QuickFIX load processes, a closed loop and a tiny raw echo. It checks that the run
completes and reports its figures -- never a speed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.fix
REPO_ROOT = Path(__file__).resolve().parents[2]
COLUMNS = ("phase", "offered/s", "done/s", "refused", "gw msg/s", "R->first S ms p50/p99/p99.9",
           "R->Filled ms p50/p99/p99.9", "gw CPU", "process", "CPU s", "peak RSS MB", "raw QuickFIX echo",
           "gateway / echo")


def test_a_short_bench_run_completes_and_reports_its_figures(tmp_path):
    json_path = tmp_path / "bench.json"
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    environment.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "app.cli", "bench", "--requesters", "1", "--solvers", "2", "--in-flight", "4",
         "--duration-s", "2", "--warmup-s", "1", "--drain-s", "3", "--rates", "", "--json", str(json_path)],
        cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60)
    print(result.stdout)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for column in COLUMNS:
        assert column in result.stdout, column
    figures = json.loads(json_path.read_text())
    [closed] = figures["phases"]
    assert closed["label"].startswith("closed") and closed["completed"] > 0
    assert closed["outcomes"].get("filled", 0) > 0 and closed["filled_ms"]["p50"] is not None
    assert closed["gateway_messages_per_s"] > 0
    assert figures["echo"]["round_trips"] > 0 and figures["gateway_to_echo_ratio"] is not None
    names = {row["process"] for row in figures["processes"]}
    assert {"gateway", "venue", "BREQ1", "BSOL1", "BSOL2", "echo-acceptor", "echo-initiator"} <= names
