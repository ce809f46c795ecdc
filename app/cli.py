"""The `rfq-gateway` command: parses arguments, loads settings, hands over to the app or an ops tool."""
from __future__ import annotations

import argparse
import sys

from pydantic import ValidationError

from app.broker_process import run_connector
from app.demo import run_demo
from app.processes import wait_for_stop
from app.settings import Settings
from app.stack import Stack
from core.clock import OffsetClock, SystemClock
from db.engine import downgrade_to, upgrade_to_head
from ops.admin import add_admin_parser, run_admin
from ops.broker_cli import add_broker_parser, run_broker_command
from ops.recon_cli import add_reconcile_parser, add_report_parser, run_reconcile, run_report
from runtime.logging import configure_logging

QUIET_COMMANDS = ("demo", "admin", "reconcile", "report")


def build_parser() -> argparse.ArgumentParser:
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
    add_admin_parser(commands)
    add_broker_parser(commands)
    add_reconcile_parser(commands)
    add_report_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"rfq-gateway: invalid configuration:\n{error}", file=sys.stderr)
        return 2
    quiet = arguments.command in QUIET_COMMANDS or getattr(arguments, "broker_command", "run") != "run"
    configure_logging(json_output=settings.log_format == "json", level="WARNING" if quiet else "INFO")
    return dispatch(arguments, settings)


def dispatch(arguments: argparse.Namespace, settings: Settings) -> int:
    match arguments.command:
        case "serve":
            return serve(settings, with_broker=not arguments.without_broker)
        case "broker" if arguments.broker_command == "run":
            return run_connector(settings)
        case "broker":
            return run_broker_command(arguments, settings)
        case "demo":
            return run_demo(settings, sys.stdout)
        case "reconcile":
            return run_reconcile(arguments, settings)
        case "report":
            return run_report(arguments, settings)
        case "admin":
            return run_admin(arguments, settings)
    return migrate(settings, arguments.action, arguments.revision)


def serve(settings: Settings, with_broker: bool = True) -> int:
    clock = OffsetClock(settings.simulated_start) if settings.simulated_start else SystemClock()
    stack = Stack(settings, clock=clock, with_broker=with_broker)
    stack.start()
    print(f"rfq-gateway serving: gateway FIX 127.0.0.1:{settings.gateway.port} ({settings.gateway.comp_id}), "
          f"venue FIX {settings.venue.host}:{settings.venue.port} ({settings.venue.comp_id}); Ctrl-C stops",
          flush=True)
    wait_for_stop()
    print("rfq-gateway: stopping ...", flush=True)
    stack.stop()
    return 0


def migrate(settings: Settings, action: str, revision: str | None) -> int:
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
