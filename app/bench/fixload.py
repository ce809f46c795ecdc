"""What every load process shares: a QuickFIX initiator (or acceptor) of one session, message
helpers without per-field type checks, counters of messages in and out, and the control pipe
to the parent (commands in, events and results out)."""
from __future__ import annotations

import os
import resource
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import quickfix as fix

from runtime.logging import configure_logging
from transport.fix.application import GuardedApplication, add_logon_credentials
from transport.fix.dictionary import DATA_DICTIONARY
from transport.fix.engine import FixEngine
from transport.fix.settings_builder import EngineSpec, SessionSpec, session_id

LOGON_TIMEOUT_S = 90.0  # the gateway may still be starting (migrations, reference data) when we do


@dataclass(frozen=True)
class LoadSpec:
    """What the parent tells a load process: its session and where the counterparty listens."""

    role: str  # requester | solver | echo-acceptor | echo-initiator
    comp_id: str
    target_comp_id: str
    port: int
    data_dir: str
    password: str | None = None
    store: str = "memory"
    options: dict[str, Any] | None = None  # role-specific (reference prices, solver index, run id)


def own_cpu_s() -> float:
    times = os.times()
    return times.user + times.system


def own_peak_rss_kb() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def set_field(message: fix.FieldMap, tag: int, value: str) -> None:
    message.setField(fix.StringField(tag, value))


def new_message(msg_type: str) -> fix.Message:
    message = fix.Message()
    header = message.getHeader()
    header.setField(fix.BeginString("FIX.4.4"))
    header.setField(fix.MsgType(msg_type))
    return message


class Control:
    """The pipe to the parent; sends are serialised (QuickFIX threads report progress too)."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection
        self._lock = threading.Lock()

    def send(self, kind: str, payload: dict[str, Any]) -> None:
        with self._lock:
            self._connection.send((kind, payload))

    def receive(self) -> tuple[str, dict[str, Any]]:
        kind, payload = self._connection.recv()
        return kind, payload


class LoadApplication(GuardedApplication):
    """Counts messages; subclasses handle application messages in `on_message`."""

    def __init__(self, spec: LoadSpec) -> None:
        super().__init__(f"bench.{spec.role}")
        self.spec = spec
        self.session = session_id(spec.comp_id, spec.target_comp_id)
        self.logged_on = threading.Event()
        self.sent = 0
        self.received = 0
        self.session_rejects = 0

    def handle_to_admin(self, message: fix.Message, session: fix.SessionID) -> None:
        if self.spec.password is not None:
            add_logon_credentials(message, (self.spec.comp_id, self.spec.password))

    def handle_logon(self, session: fix.SessionID) -> None:
        self.logged_on.set()

    def handle_logout(self, session: fix.SessionID) -> None:
        self.logged_on.clear()

    def handle_from_admin(self, message: fix.Message, session: fix.SessionID) -> None:
        if message.getHeader().getField(35) == "3":
            self.session_rejects += 1

    def handle_from_app(self, message: fix.Message, session: fix.SessionID) -> None:
        self.received += 1
        self.on_message(message.getHeader().getField(35), message)

    def on_message(self, msg_type: str, message: fix.Message) -> None: ...

    def send(self, message: fix.Message) -> None:
        self.sent += 1
        fix.Session.sendToTarget(message, self.session)

    def counters(self) -> dict[str, Any]:
        return {"sent": self.sent, "received": self.received, "session_rejects": self.session_rejects,
                "cpu_s": own_cpu_s(), "peak_rss_kb": own_peak_rss_kb(), "pid": os.getpid()}


def start_engine(application: LoadApplication, acceptor: bool = False) -> FixEngine:
    spec = application.spec
    configure_logging(json_output=True, level="WARNING")
    engine_spec = EngineSpec(name=f"bench-{spec.role}-{spec.comp_id}",
                             connection_type="acceptor" if acceptor else "initiator",
                             host="127.0.0.1", port=spec.port,
                             sessions=(SessionSpec(spec.comp_id, spec.target_comp_id),),
                             data_dir=Path(spec.data_dir), data_dictionary=DATA_DICTIONARY, store=spec.store)
    engine = FixEngine(engine_spec, application)
    engine.start()
    return engine


def serve_until_stopped(application: LoadApplication, control: Control, engine: FixEngine,
                        run_command) -> None:
    """Reports ready once logged on (an acceptor at once), then runs the parent's commands until `stop`."""
    if application.spec.role != "echo-acceptor" and not application.logged_on.wait(LOGON_TIMEOUT_S):
        control.send("error", {"text": f"{application.spec.comp_id} did not log on within {LOGON_TIMEOUT_S} s"})
        engine.stop()
        return
    control.send("ready", application.counters())
    try:
        while True:
            kind, payload = control.receive()
            if kind == "stop":
                break
            if kind == "stats":
                control.send("stats", application.counters())
            else:
                control.send("result", run_command(kind, payload))
    finally:
        control.send("stopped", application.counters())
        engine.stop()
