"""The `rfq-gateway` command: parses arguments, loads settings, hands over to the app or an ops tool."""
from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import date

from pydantic import ValidationError

from app.bench.command import add_bench_parser, run_bench_command
from app.broker_process import run_connector
from app.console import ConsoleNotConfigured, attach_monitoring, run_console, start_stack_console
from app.demo import run_demo
from app.processes import wait_for_stop
from app.settings import Settings
from app.stack import Stack
from app.venue_process import price_board, run_venue, start_venue_child, write_statement_now
from core.clock import OffsetClock, SystemClock, utc_now
from db.engine import downgrade_to, upgrade_to_head
from ops.admin import add_admin_parser, run_admin
from ops.broker_cli import add_broker_parser, run_broker_command
from ops.recon_cli import add_reconcile_parser, add_report_parser, run_reconcile, run_report
from ops.reserves import add_reserves_parser, run_reserves
from runtime.logging import configure_logging

QUIET_COMMANDS = ("demo", "admin", "reconcile", "report", "console", "bench", "reserves")
CHILD_STOP_TIMEOUT_S = 10.0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rfq-gateway", description="FIX 4.4 RFQ gateway, broker connector, "
                                     "simulated venue and settlement ledger")
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="run gateway, broker connector and simulated venue until Ctrl-C")
    serve_parser.add_argument("--without-broker", action="store_true",
                              help="run gateway and venue only (start the connector with `broker run`)")
    serve_parser.add_argument("--venue", choices=["child", "external", "in-process"], default="child",
                              help="child (default): start the simulated venue as a process of its own, or use "
                                   "the one already listening; external: a venue started with `venue run`; "
                                   "in-process: inside this process (it dies with it)")
    venue_parser = commands.add_parser("venue", help="the simulated venue: run it, or write its statements")
    venue_commands = venue_parser.add_subparsers(dest="venue_command", required=True)
    venue_commands.add_parser("run", help="run the venue until Ctrl-C (orders and fills in its own store)")
    statement = venue_commands.add_parser("statement", help="write the T+1 statement and position report now")
    statement.add_argument("--date", required=True, type=date.fromisoformat, metavar="YYYY-MM-DD",
                           help="the trade date")
    statement.add_argument("--account", default=None, help="the client CompID (default: the broker's)")
    serve_parser.add_argument("--without-console", action="store_true",
                              help="do not serve the operator console and /metrics ([console] in the config)")
    demo = commands.add_parser("demo", help="run the stack with scripted clients through a handful of RFQs")
    demo.add_argument("--keep-console", action="store_true",
                      help="after the scenarios keep the stack and its operator console running until Ctrl-C")
    commands.add_parser("console", help="serve the operator console alone, against the configured database "
                                        "(the gateway runs elsewhere)")
    database = commands.add_parser("db", help="schema migrations")
    database.add_argument("action", choices=["upgrade", "downgrade"])
    database.add_argument("revision", nargs="?", default=None,
                          help="target revision (default: head for upgrade, base for downgrade)")
    add_bench_parser(commands)
    add_admin_parser(commands)
    add_broker_parser(commands)
    add_reconcile_parser(commands)
    add_report_parser(commands)
    add_reserves_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        print(f"rfq-gateway: invalid configuration:\n{error}", file=sys.stderr)
        return 2
    quiet = (arguments.command in QUIET_COMMANDS or getattr(arguments, "broker_command", "run") != "run"
             or getattr(arguments, "venue_command", "run") != "run")
    configure_logging(json_output=settings.log_format == "json", level="WARNING" if quiet else "INFO")
    return dispatch(arguments, settings)


def dispatch(arguments: argparse.Namespace, settings: Settings) -> int:
    match arguments.command:
        case "serve":
            return serve(settings, with_broker=not arguments.without_broker, venue=arguments.venue,
                         with_console=not arguments.without_console)
        case "venue" if arguments.venue_command == "run":
            return run_venue(settings)
        case "venue":
            for path in write_statement_now(settings, arguments.date, arguments.account):
                print(path)
            return 0
        case "broker" if arguments.broker_command == "run":
            return run_connector(settings, price_board(settings).reference)
        case "broker":
            return run_broker_command(arguments, settings)
        case "demo":
            return run_demo(settings, sys.stdout, keep_console=arguments.keep_console)
        case "console":
            return run_console(settings, sys.stdout)
        case "bench":
            return run_bench_command(arguments)
        case "reconcile":
            return run_reconcile(arguments, settings)
        case "report":
            return run_report(arguments, settings)
        case "admin":
            return run_admin(arguments, settings)
        case "reserves":
            return run_reserves(arguments, settings, utc_now())
    return migrate(settings, arguments.action, arguments.revision)


def serve(settings: Settings, with_broker: bool = True, venue: str = "child", with_console: bool = True) -> int:
    clock = OffsetClock(settings.simulated_start) if settings.simulated_start else SystemClock()
    child = start_venue_child(settings) if venue == "child" else None
    stack = Stack(settings, clock=clock, with_broker=with_broker, venue_in_process=venue == "in-process")
    monitoring = attach_monitoring(stack)
    stack.start()
    console = None
    if with_console and settings.console.enabled:
        try:
            console = start_stack_console(stack, monitoring)
        except ConsoleNotConfigured as error:
            print(f"rfq-gateway: operator console not started: {error}", file=sys.stderr, flush=True)
    print(f"rfq-gateway serving: gateway FIX 127.0.0.1:{settings.gateway.port} ({settings.gateway.comp_id}), "
          f"venue FIX {settings.venue.host}:{settings.venue.port} ({settings.venue.comp_id}); Ctrl-C stops",
          flush=True)
    if console is not None:
        print(f"operator console and /metrics: {console.url}", flush=True)
    wait_for_stop()
    print("rfq-gateway: stopping ...", flush=True)
    if console is not None:
        console.stop()
    stack.stop()
    if child is not None:
        _stop_child(child)
    return 0


def _stop_child(child: subprocess.Popen[bytes]) -> None:
    child.terminate()
    try:
        child.wait(CHILD_STOP_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        child.kill()


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
