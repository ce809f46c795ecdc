"""The entry point of every load process: `python -m app.bench.loadmain FD`, FD being its end of the
control pipe (a socket pair). A fresh interpreter with its own QuickFIX engine and GIL, that imports
only QuickFIX and the load code (not the gateway), so it starts fast and stays small."""
from __future__ import annotations

import sys
from multiprocessing.connection import Connection
from typing import Any

from app.bench.echo import EchoAcceptor, EchoInitiator
from app.bench.fixload import Control, LoadApplication, LoadSpec, serve_until_stopped, start_engine
from app.bench.requester import RequesterLoad
from app.bench.solver import SolverLoad


def build_application(spec: LoadSpec, control: Control) -> LoadApplication:
    if spec.role == "requester":
        return RequesterLoad(spec, control.send)
    if spec.role == "solver":
        return SolverLoad(spec)
    if spec.role == "echo-acceptor":
        return EchoAcceptor(spec)
    if spec.role == "echo-initiator":
        return EchoInitiator(spec)
    raise ValueError(f"unknown load role {spec.role!r}")


def load_main(connection: Connection, spec: LoadSpec) -> None:
    control = Control(connection)
    try:
        application = build_application(spec, control)
        engine = start_engine(application, acceptor=spec.role == "echo-acceptor")
    except Exception as error:  # noqa: BLE001 - reported to the parent, which stops the run
        control.send("error", {"text": f"{spec.comp_id}: {error!r}"})
        return

    def run_command(kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        if isinstance(application, (RequesterLoad, EchoInitiator)):
            return application.run(kind, payload)
        return application.counters()

    serve_until_stopped(application, control, engine, run_command)


def main(argv: list[str]) -> int:
    connection = Connection(int(argv[0]))
    spec = connection.recv()
    load_main(connection, spec)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
