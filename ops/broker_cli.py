"""`rfq-gateway broker ...`: run the broker connector on its own, and change its
quoting margins at run time (the running connector re-reads them every second)."""
from __future__ import annotations

import argparse
import sys
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from broker.models import BrokerParameterRow
from broker.parameters import QuotingParameters, set_parameters
from core.clock import utc_now
from db.engine import create_db_engine, session_factory, upgrade_to_head
from ledger.uow import SqlUnitOfWork
from marketcal.sessions import MarketSession


def add_broker_parser(subparsers) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("broker", help="the broker connector: run it alone, or change its margins")
    commands = parser.add_subparsers(dest="broker_command", required=True, metavar="SUBCOMMAND")
    commands.add_parser("run", help="run only the broker connector (gateway and venue run elsewhere); "
                                    "prices come from the venue's market data on MQTT_URL")
    margin = commands.add_parser("set-margin", help="set margin/aggression (bps) for a market session, live")
    margin.add_argument("--session", required=True, choices=[s.value for s in MarketSession])
    margin.add_argument("--margin-bps", required=True)
    margin.add_argument("--aggression-bps", default="0")
    margin.add_argument("--by", default="operator", help="who made the change (recorded)")
    commands.add_parser("show", help="the margins in force per market session")
    return parser


def run_broker_command(arguments, settings) -> int:
    """`broker set-margin` and `broker show` (`broker run` starts the connector: app.broker_process)."""
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    try:
        with SqlUnitOfWork(session_factory(engine)) as uow:
            if arguments.broker_command == "set-margin":
                return _set_margin(arguments, uow)
            return _show(settings, uow)
    finally:
        engine.dispose()


def _set_margin(arguments, uow) -> int:
    try:
        parameters = QuotingParameters(Decimal(arguments.margin_bps), Decimal(arguments.aggression_bps))
    except (InvalidOperation, ValueError) as error:
        print(f"rfq-gateway: invalid margin: {error}", file=sys.stderr)
        return 2
    set_parameters(uow.session, arguments.session, parameters, utc_now(), arguments.by)
    uow.commit()
    print(f"{arguments.session}: margin {parameters.margin_bps} bps, aggression {parameters.aggression_bps} bps "
          "(the running connector picks this up within a second)")
    return 0


def _show(settings, uow) -> int:
    rows = {row.market_session: row for row in uow.session.scalars(select(BrokerParameterRow))}
    print(f"{'session':<12} {'margin_bps':>10} {'aggression_bps':>14}  source")
    for session in MarketSession:
        row = rows.get(session.value)
        if row is None:
            print(f"{session.value:<12} {settings.broker.margin_bps:>10} {settings.broker.aggression_bps:>14}  config")
        else:
            print(f"{session.value:<12} {row.margin_bps:>10} {row.aggression_bps:>14}  "
                  f"set by {row.updated_by} at {row.updated_at:%Y-%m-%d %H:%M:%S}")
    return 0
