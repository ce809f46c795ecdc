"""The `rfq-gateway` command."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from pydantic import ValidationError

from runtime.logging import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rfq-gateway", description="FIX 4.4 RFQ gateway, broker connector, "
                                     "simulated venue and settlement ledger")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run gateway, broker connector and simulated venue until Ctrl-C")
    serve_parser.add_argument("--without-broker", action="store_true",
                              help="run gateway and venue only (start the connector with `broker run`)")
    commands.add_parser("demo", help="run the stack with scripted clients through a handful of RFQs")
    database = commands.add_parser("db", help="schema migrations")
    database.add_argument("action", choices=["upgrade", "downgrade"])
    database.add_argument("revision", nargs="?", default=None,
                          help="target revision (default: head for upgrade, base for downgrade)")
    from ops.admin import add_admin_parser

    add_admin_parser(commands)
    from ops.broker_cli import add_broker_parser
    from ops.recon_cli import add_reconcile_parser, add_report_parser

    add_broker_parser(commands)
    add_reconcile_parser(commands)
    add_report_parser(commands)
    arguments = parser.parse_args(argv)

    from app.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        print(f"rfq-gateway: invalid configuration:\n{error}", file=sys.stderr)
        return 2
    quiet = (arguments.command in ("demo", "admin", "reconcile", "report")
             or getattr(arguments, "broker_command", "run") != "run")
    configure_logging(json_output=settings.log_format == "json", level="WARNING" if quiet else "INFO")
    if arguments.command == "serve":
        return serve(settings, with_broker=not arguments.without_broker)
    if arguments.command == "broker":
        from ops.broker_cli import run_broker_command

        return run_broker_command(arguments, settings)
    if arguments.command == "demo":
        from app.demo import run_demo

        return run_demo(settings, sys.stdout)
    if arguments.command == "reconcile":
        from ops.recon_cli import run_reconcile

        return run_reconcile(arguments, settings)
    if arguments.command == "report":
        from ops.recon_cli import run_report

        return run_report(arguments, settings)
    if arguments.command == "admin":
        from ops.admin import run_admin

        return run_admin(arguments, settings)
    return migrate(settings, arguments.action, arguments.revision)


def serve(settings, with_broker: bool = True) -> int:
    from app.stack import Stack
    from core.clock import OffsetClock, SystemClock

    clock = OffsetClock(settings.simulated_start) if settings.simulated_start else SystemClock()
    stack = Stack(settings, clock=clock, with_broker=with_broker)
    stopped = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopped.set())
    stack.start()
    print(f"rfq-gateway serving: gateway FIX 127.0.0.1:{settings.gateway.port} ({settings.gateway.comp_id}), "
          f"venue FIX {settings.venue.host}:{settings.venue.port} ({settings.venue.comp_id}); Ctrl-C stops",
          flush=True)
    while not stopped.wait(0.5):
        pass
    print("rfq-gateway: stopping ...", flush=True)
    stack.stop()
    return 0


def migrate(settings, action: str, revision: str | None) -> int:
    from db.engine import downgrade_to, upgrade_to_head

    url = settings.resolved_database_url()
    if action == "upgrade":
        if revision not in (None, "head"):
            print("rfq-gateway: only 'upgrade head' is supported", file=sys.stderr)
            return 2
        upgrade_to_head(url)
    else:
        downgrade_to(url, revision or "base")
    print(f"database {action} done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
