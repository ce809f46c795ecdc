"""Real processes of the product, each started, SIGKILLed and restarted by the fault harness.

Every process gets the same simulated wall clock: RFQ_SIMULATED_START is the harness's anchor plus
the real time elapsed since the harness began, so a restarted process continues the others' time
instead of going back to the anchor.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 20.0

# Short timers so a round trip through every failure path fits a test run.
TIMER_SETTINGS = {
    "RFQ_GATEWAY__SETTLEMENT_TIMEOUT_S": "60",
    "RFQ_GATEWAY__SUBMISSION_WINDOW_S": "10",
    "RFQ_BROKER__ORDER_TIMEOUT_S": "8",
}


@dataclass
class Cluster:
    workdir: Path
    anchor: datetime
    gateway_port: int
    venue_port: int
    database_url: str | None = None
    requester_count: int = 60
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    started_monotonic: float = field(default_factory=time.monotonic)

    @property
    def journal(self) -> Path:
        return self.workdir / "requester.jsonl"

    def environment(self) -> dict[str, str]:
        elapsed = timedelta(seconds=time.monotonic() - self.started_monotonic)
        environment = {**os.environ, **TIMER_SETTINGS, "RFQ_DATA_DIR": str(self.workdir / "var"),
                       "RFQ_GATEWAY__PORT": str(self.gateway_port), "RFQ_VENUE__PORT": str(self.venue_port),
                       "RFQ_SIMULATED_START": (self.anchor + elapsed).isoformat(), "RFQ_LOG_FORMAT": "json"}
        environment.pop("DATABASE_URL", None)
        if self.database_url:
            environment["DATABASE_URL"] = self.database_url
        return environment

    def command(self, name: str) -> list[str]:
        cli = [sys.executable, "-m", "app.cli"]
        match name:
            case "venue":
                return [*cli, "venue", "run"]
            case "gateway":
                return [*cli, "serve", "--without-broker", "--venue", "external"]
            case "broker":
                return [*cli, "broker", "run"]
            case "requester":
                return [sys.executable, "-m", "tests.fault.requester", "--port", str(self.gateway_port),
                        "--data-dir", str(self.workdir / "requester"), "--journal", str(self.journal),
                        "--count", str(self.requester_count)]
        raise ValueError(name)

    def start(self, name: str) -> None:
        assert name not in self.processes or self.processes[name].poll() is not None, f"{name} is running"
        log = open(self.workdir / f"{name}-{len(list(self.workdir.glob(f'{name}-*.log')))}.log", "wb")
        self.processes[name] = subprocess.Popen(self.command(name), cwd=REPO_ROOT, env=self.environment(),
                                                stdout=log, stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        process = self.processes[name]
        process.send_signal(signal.SIGKILL)
        process.wait(STOP_TIMEOUT_S)

    def alive(self, name: str) -> bool:
        return self.processes[name].poll() is None

    def stop_all(self) -> dict[str, int | None]:
        """SIGTERM in the reverse order of the data flow; returns each exit code."""
        codes: dict[str, int | None] = {}
        for name in ("requester", "broker", "gateway", "venue"):
            process = self.processes.get(name)
            if process is None:
                continue
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(STOP_TIMEOUT_S)
            codes[name] = process.returncode
        return codes
