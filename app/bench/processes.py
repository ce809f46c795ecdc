"""The processes of a bench run, seen from the parent: the gateway, venue and broker connector as
`rfq-gateway` commands, and the load processes, all subprocesses with the bench's environment,
each with its pid for /proc sampling."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from multiprocessing import Pipe
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from app.bench.environment import BenchWorld
from app.bench.fixload import LoadSpec
from app.bench.procstat import ProcSample, sample

START_TIMEOUT_S = 90.0
STOP_TIMEOUT_S = 20.0


class BenchError(RuntimeError):
    """A process of the run failed to start or answer; the run stops."""


@dataclass
class ServiceProcess:
    """`rfq-gateway <args>` with the bench environment; its output goes to a log file in the data dir."""

    name: str
    args: list[str]
    world: BenchWorld
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None

    def start(self) -> ServiceProcess:
        self.log_path = self.world.data_dir / f"{self.name}.log"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "app.cli", *self.args], env=self.world.environment,
                                            cwd=self.world.data_dir, stdout=log, stderr=subprocess.STDOUT)
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace")[-3000:] if self.log_path else ""
            raise BenchError(f"{self.name} exited (code {self.process and self.process.returncode}); log tail:\n{tail}")

    def wait_listening(self, port: int) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            self.check_alive()
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    return
            except OSError:
                if time.monotonic() > deadline:
                    raise BenchError(f"{self.name} is not listening on {port} after {START_TIMEOUT_S} s") from None
                time.sleep(0.1)

    def terminate(self) -> None:
        """SIGTERM: the command stops cleanly (as on Ctrl-C)."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.terminate()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT_S)

    def sample(self) -> ProcSample | None:
        return sample(self.pid) if self.process is not None else None


@dataclass
class LoadProcess:
    """A load process (`python -m app.bench.loadmain FD`: a fresh interpreter with only QuickFIX and the
    load code imported) and the parent's end of its control pipe, a socket pair inherited as FD."""

    name: str
    spec: LoadSpec
    environment: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None
    connection: Connection | None = None
    last: dict[str, Any] = field(default_factory=dict)  # its last self-report (counters, CPU, peak RSS)

    def start(self) -> LoadProcess:
        parent_end, child_end = Pipe()
        self.process = subprocess.Popen([sys.executable, "-m", "app.bench.loadmain", str(child_end.fileno())],
                                        env=self.environment, pass_fds=(child_end.fileno(),))
        child_end.close()
        self.connection = parent_end
        parent_end.send(self.spec)
        return self

    def is_alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def send(self, kind: str, payload: dict[str, Any] | None = None) -> None:
        assert self.connection is not None
        self.connection.send((kind, payload or {}))

    def expect(self, wanted: str, timeout_s: float) -> dict[str, Any]:
        """The next message of kind `wanted`, skipping progress events; BenchError on error or timeout."""
        assert self.connection is not None
        deadline = time.monotonic() + timeout_s
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self.connection.poll(remaining):
                raise BenchError(f"{self.name}: no {wanted!r} within {timeout_s} s")
            kind, payload = _receive(self)
            if kind == "error":
                raise BenchError(payload["text"])
            if kind == wanted:
                if wanted in ("ready", "stats", "stopped"):
                    self.last = payload
                return payload

    def stop(self) -> None:
        stop_all([self])

    def sample(self) -> ProcSample | None:
        return sample(self.pid) if self.process is not None else None


def stop_all(processes: list[LoadProcess]) -> None:
    """Asks every live one to log out and stop, all at once (a QuickFIX logout takes a moment), then
    waits for each; one that does not stop in time is killed."""
    live = [p for p in processes if p.is_alive()]
    for process in live:
        try:
            process.send("stop")
        except OSError:
            pass
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for process in live:
        assert process.process is not None
        try:
            process.process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.process.kill()
            process.process.wait(STOP_TIMEOUT_S)


def _receive(process: LoadProcess) -> tuple[str, dict[str, Any]]:
    assert process.connection is not None
    try:
        kind, payload = process.connection.recv()
    except (EOFError, OSError):
        code = process.process.poll() if process.process is not None else None
        raise BenchError(f"{process.name} exited (code {code}); its error is above") from None
    return kind, payload


def collect(processes: list[LoadProcess], kind: str, timeout_s: float,
            on_event=None) -> list[dict[str, Any]]:
    """Each process's next `kind` message (in their order); other events go to `on_event(process, kind, payload)`."""
    results: dict[int, dict[str, Any]] = {}
    by_connection = {id(p.connection): p for p in processes}
    deadline = time.monotonic() + timeout_s
    while len(results) < len(processes):
        remaining = deadline - time.monotonic()
        waiting = [p.connection for p in processes if id(p) not in results and p.connection is not None]
        ready = wait(waiting, timeout=max(0.0, remaining)) if remaining > 0 else []
        if not ready:
            missing = [p.name for p in processes if id(p) not in results]
            raise BenchError(f"no {kind!r} from {missing} within {timeout_s} s")
        for ready_end in ready:
            process = by_connection[id(ready_end)]
            assert process.connection is not None
            message_kind, payload = _receive(process)
            if message_kind == "error":
                raise BenchError(payload["text"])
            if message_kind == kind:
                results[id(process)] = payload
            elif on_event is not None:
                on_event(process, message_kind, payload)
    return [results[id(p)] for p in processes]
