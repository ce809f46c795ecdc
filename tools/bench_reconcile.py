"""Benchmark of `rfq-gateway reconcile` on a large day (not a test: it prints figures, asserts nothing timed).

Creates a scratch database (a temporary SQLite file, or with --database-url a scratch database on
that PostgreSQL server, dropped afterwards), bulk-inserts N venue orders and fills for one trade
date, writes the matching settlement statement, and reconciles it through the CLI entry point:
a clean run, an idempotent re-run, and a statement with faults.

    .venv/bin/python tools/bench_reconcile.py [--rows 100000] [--database-url postgresql+psycopg://...]
"""
from __future__ import annotations

import argparse
import io
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.reference_data import seed_reference_data
from app.settings import Settings
from broker.models import VenueFillRow, VenueOrderRow
from db.engine import create_db_engine, default_sqlite_url, session_factory, upgrade_to_head
from ops.recon_cli import add_reconcile_parser, run_reconcile
from recon.files import net_amount, statement_csv
from recon.reconciliation import StatementRow
from runtime.logging import configure_logging

TRADE_DATE = date(2026, 11, 20)  # a Friday: settles Monday 2026-11-23
SETTLEMENT_DATE = date(2026, 11, 23)
OPENS_AT = datetime(2026, 11, 20, 14, 30, tzinfo=timezone.utc)  # 09:30 New York
SYMBOLS = (("AAPL", "037833100", Decimal("227.43")), ("MSFT", "594918104", Decimal("415.20")),
           ("NVDA", "67066G104", Decimal("131.25")))
INSERT_CHUNK = 10_000
FAULT_EVERY = 100


@contextmanager
def scratch_database(server_url: str | None) -> Iterator[str]:
    if server_url is None:
        with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as folder:
            yield default_sqlite_url(Path(folder))
        return
    name = f"rfqbench_{secrets.token_hex(6)}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def trade(index: int) -> StatementRow:
    symbol, cusip, base = SYMBOLS[index % len(SYMBOLS)]
    quantity = Decimal(1 + index % 500)
    price = base + Decimal(index % 97) / 100 + Decimal("0.0001") * (index % 7)
    return StatementRow(
        trade_id=f"E{index:08d}", trade_date=TRADE_DATE, settlement_date=SETTLEMENT_DATE, account="BROKER",
        symbol=symbol, cusip=cusip, side="buy" if index % 2 else "sell", quantity=quantity, price=price,
        net_amount=net_amount(quantity, price), cl_ord_id=f"rfq-{index}-001", venue_order_id=f"V{index:08d}",
    )


def insert_fills(url: str, trades: list[StatementRow]) -> float:
    engine = create_db_engine(url)
    started = time.perf_counter()
    try:
        for start in range(0, len(trades), INSERT_CHUNK):
            chunk = trades[start:start + INSERT_CHUNK]
            with engine.begin() as connection:
                connection.execute(VenueOrderRow.__table__.insert(), [_order(row, start + offset)
                                                                   for offset, row in enumerate(chunk)])
                connection.execute(VenueFillRow.__table__.insert(), [_fill(row, start + offset)
                                                                  for offset, row in enumerate(chunk)])
    finally:
        engine.dispose()
    return time.perf_counter() - started


def _order(row: StatementRow, index: int) -> dict[str, object]:
    at = OPENS_AT + timedelta(milliseconds=index)
    return {"cl_ord_id": row.cl_ord_id, "rfq_id": index, "attempt": 1, "quote_resp_id": f"QR{index}",
            "symbol": row.symbol, "side": row.side, "quantity": row.quantity, "limit_price": row.price,
            "quoted_price": row.price, "state": "filled", "cum_quantity": row.quantity,
            "notional": row.quantity * row.price, "venue_order_id": row.venue_order_id, "reported": True,
            "text": None, "sent_at": at, "updated_at": at}


def _fill(row: StatementRow, index: int) -> dict[str, object]:
    return {"exec_id": row.trade_id, "cl_ord_id": row.cl_ord_id, "venue_order_id": row.venue_order_id,
            "symbol": row.symbol, "side": row.side, "quantity": row.quantity, "price": row.price,
            "nbbo_bid": row.price - Decimal("0.01"), "nbbo_offer": row.price + Decimal("0.01"),
            "executed_at": OPENS_AT + timedelta(milliseconds=index), "trade_date": TRADE_DATE}


def with_faults(trades: list[StatementRow]) -> list[StatementRow]:
    """Every FAULT_EVERY-th trade a cent dearer on the statement: one price break each."""
    return [replace(row, price=row.price + Decimal("0.01"), net_amount=net_amount(row.quantity, row.price
                                                                                  + Decimal("0.01")))
            if index % FAULT_EVERY == 0 else row for index, row in enumerate(trades)]


def reconcile_timed(settings: Settings, statement: Path) -> tuple[int, float, str]:
    parser = argparse.ArgumentParser(prog="rfq-gateway")
    add_reconcile_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["reconcile", "--trade-date", TRADE_DATE.isoformat(), "--statement", str(statement)])
    output = io.StringIO()
    started = time.perf_counter()
    exit_code = run_reconcile(args, settings, stdout=output)
    elapsed_s = time.perf_counter() - started
    return exit_code, elapsed_s, output.getvalue().splitlines()[-1]


def report(label: str, rows: int, exit_code: int, elapsed_s: float, summary: str) -> None:
    print(f"{label:<28} rows {rows:>8}  {elapsed_s:8.2f} s  {rows / elapsed_s:>10,.0f} rows/s  "
          f"exit {exit_code}  ({summary})", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="a PostgreSQL server URL; a scratch database is created on it")
    args = parser.parse_args(argv)
    configure_logging(json_output=False, level="WARNING")
    with scratch_database(args.database_url) as url, tempfile.TemporaryDirectory(prefix="bench-stmt-") as folder:
        upgrade_to_head(url)
        engine = create_db_engine(url)
        with session_factory(engine)() as session, session.begin():
            seed_reference_data(session, Settings())
        engine.dispose()
        trades = [trade(index) for index in range(args.rows)]
        insert_s = insert_fills(url, trades)
        print(f"backend {make_url(url).get_backend_name()}: inserted {args.rows} venue orders + fills in "
              f"{insert_s:.2f} s", flush=True)
        clean = Path(folder) / "statement-BROKER-clean.csv"
        clean.write_text(statement_csv(trades), encoding="utf-8")
        faulty = Path(folder) / "statement-BROKER-faulty.csv"
        faulty.write_text(statement_csv(with_faults(trades)), encoding="utf-8")
        settings = Settings().model_copy(update={"database_url": url})
        for label, statement in (("clean statement", clean), ("clean statement, re-run", clean),
                                 (f"1 price fault per {FAULT_EVERY}", faulty)):
            report(label, args.rows, *reconcile_timed(settings, statement))
    return 0


if __name__ == "__main__":
    sys.exit(main())
