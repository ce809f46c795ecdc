"""The `rfq-gateway` command."""
from __future__ import annotations

import argparse
import signal
import sys
import threading

from pydantic import ValidationError

from rfq_runtime.logging import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rfq-gateway", description="FIX 4.4 RFQ gateway, broker connector, "
                                     "simulated venue and settlement ledger")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run gateway, broker connector and simulated venue until Ctrl-C")
    commands.add_parser("demo", help="run the stack with scripted clients through a handful of RFQs")
    database = commands.add_parser("db", help="schema migrations")
    database.add_argument("action", choices=["upgrade", "downgrade"])
    database.add_argument("revision", nargs="?", default=None,
                          help="target revision (default: head for upgrade, base for downgrade)")
    from gateway.admin import add_admin_parser

    add_admin_parser(commands)
    arguments = parser.parse_args(argv)

    from gateway.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        print(f"rfq-gateway: invalid configuration:\n{error}", file=sys.stderr)
        return 2
    quiet = arguments.command in ("demo", "admin")
    configure_logging(json_output=settings.log_format == "json", level="WARNING" if quiet else "INFO")
    if arguments.command == "serve":
        return serve(settings)
    if arguments.command == "demo":
        from gateway.demo import run_demo

        return run_demo(settings, sys.stdout)
    if arguments.command == "admin":
        from gateway.admin import run_admin

        return run_admin(arguments, settings)
    return migrate(settings, arguments.action, arguments.revision)


def serve(settings) -> int:
    from gateway.stack import Stack

    stack = Stack(settings)
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
    from settlement.db import downgrade_to, upgrade_to_head

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
