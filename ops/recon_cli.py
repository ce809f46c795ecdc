"""`rfq-gateway reconcile ...` (T+1 reconciliation) and `rfq-gateway report execution ...`.

Like `admin`, these run as separate processes against the settlement database. Exit codes:
reconcile 0 clean, 1 breaks remain, 2 error (nothing recorded); report 0 done, 2 error.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy.exc import OperationalError

from broker.recon_source import BrokerVenueTrades
from core.clock import Now, utc_now
from core.money import canonical_decimal_text
from db.engine import create_db_engine, session_factory, upgrade_to_head
from ops.admin import render_table
from ops.reports.execution_quality import ReportBuilder, TierThresholds
from ops.reports.html import render_html
from ops.reports.sources import gateway_executions, venue_executions
from ops.reports.tables import footnotes, report_tables
from recon.files import MalformedFile
from recon.models import FILE_NAME_LENGTH
from recon.reconciliation import DEFAULT_PRICE_TOLERANCE, CalendarNotCovered
from recon.service import PreparedReconciliation, ReconOutcome, VenueFile, prepare, reconcile

if TYPE_CHECKING:
    from app.settings import Settings

EXIT_CLEAN = 0
EXIT_BREAKS = 1
EXIT_ERROR = 2
MAX_INPUT_FILE_BYTES = 512 * 1024 * 1024
MAX_REPORT_DAYS = 366
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class CliError(Exception):
    """Something the operator has to correct: printed to stderr, exit code 2."""


def _iso_date(text: str) -> date:
    if not _ISO_DATE.fullmatch(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not a YYYY-MM-DD date")
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a valid date") from None


def _tolerance(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"{text!r} is not a decimal number") from None
    if not value.is_finite() or value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a non-negative number")
    return value


# ---- reconcile -------------------------------------------------------------------------------

def add_reconcile_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `reconcile` to the `rfq-gateway` subparsers; dispatch with run_reconcile."""
    parser = subparsers.add_parser("reconcile", help="T+1 reconciliation of our venue fills against the venue's "
                                   "settlement statement (and of ledger shares against custody)")
    parser.add_argument("--trade-date", required=True, type=_iso_date, metavar="YYYY-MM-DD")
    parser.add_argument("--statement", required=True, metavar="FILE", help="the venue's settlement statement (CSV)")
    parser.add_argument("--positions", metavar="FILE", help="the custodian's position report (CSV): also check "
                        "that ledger shares are fully reserved at custody")
    parser.add_argument("--price-tolerance", type=_tolerance, default=DEFAULT_PRICE_TOLERANCE, metavar="USD",
                        help=f"largest price difference per share that is not a break (default "
                        f"{DEFAULT_PRICE_TOLERANCE})")
    return parser


def run_reconcile(args: argparse.Namespace, settings: Settings, *, stdout: TextIO | None = None,
                  clock: Now = utc_now) -> int:
    """Reconcile one trade date, record the run, print the breaks. 0 clean, 1 breaks, 2 error."""
    out = stdout or sys.stdout
    try:
        statement = _read_input(args.statement, "statement")
        positions = _read_input(args.positions, "positions") if args.positions else None
        prepared = prepare(args.trade_date, statement, positions, args.price_tolerance)
        outcome = _reconcile_in_database(settings, prepared, clock)
    except (CliError, MalformedFile, CalendarNotCovered) as error:
        print(f"rfq-gateway reconcile: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OperationalError as error:
        print(f"rfq-gateway reconcile: error: database unavailable: {error.orig}", file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(reconcile_lines(outcome, prepared)), file=out, flush=True)
    return EXIT_BREAKS if outcome.breaks else EXIT_CLEAN


def _read_input(name: str, what: str) -> VenueFile:
    if len(name) > FILE_NAME_LENGTH:
        raise CliError(f"{what} path longer than {FILE_NAME_LENGTH} characters")
    path = Path(name)
    try:
        size = path.stat().st_size
        if size > MAX_INPUT_FILE_BYTES:
            raise CliError(f"{what} file {name} is {size} bytes, more than {MAX_INPUT_FILE_BYTES}")
        return VenueFile(name, path.read_bytes())
    except OSError as error:
        raise CliError(f"cannot read {what} file {name}: {error.strerror or error}") from None


def _reconcile_in_database(settings: Settings, prepared: PreparedReconciliation, clock: Now) -> ReconOutcome:
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    try:
        with session_factory(engine)() as session, session.begin():
            return reconcile(session, prepared, clock(), BrokerVenueTrades())
    finally:
        engine.dispose()


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def reconcile_lines(outcome: ReconOutcome, prepared: PreparedReconciliation) -> list[str]:
    lines = [
        f"reconciliation run #{outcome.run_id}: trade date {outcome.trade_date.isoformat()}, "
        f"expected settlement date {outcome.settlement_date.isoformat()}",
        f"statement {prepared.statement.name} (sha256 {outcome.statement_sha256[:16]}, "
        f"{_plural(outcome.statement_rows, 'row')}); our venue fills: {outcome.ours}; "
        f"price tolerance {canonical_decimal_text(prepared.price_tolerance)} per share",
    ]
    if outcome.reserves_checked:
        assert prepared.positions is not None
        as_of = outcome.custody_as_of.isoformat() if outcome.custody_as_of else "-"
        lines.append(f"reserves: ledger shares now against custody report {prepared.positions.name} (as of {as_of})")
    if outcome.breaks:
        rows = [[found.kind.value, found.trade_id or "-", found.symbol or "-", found.ours or "-", found.theirs or "-"]
                for found in outcome.breaks]
        lines.extend(render_table(["KIND", "TRADE_ID", "SYMBOL", "OURS", "THEIRS"], rows))
    lines.append(f"{_plural(len(outcome.breaks), 'break')}: {_plural(outcome.matched, 'trade')} matched")
    return lines


# ---- report execution ------------------------------------------------------------------------

def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `report` (with `report execution`) to the `rfq-gateway` subparsers; dispatch with run_report."""
    report = subparsers.add_parser("report", help="operator reports")
    reports = report.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    execution = reports.add_parser("execution", help="execution quality against the NBBO, per solver")
    execution.add_argument("--from", dest="date_from", required=True, type=_iso_date, metavar="YYYY-MM-DD",
                           help="first New York trade date")
    execution.add_argument("--to", dest="date_to", required=True, type=_iso_date, metavar="YYYY-MM-DD",
                           help="last New York trade date (inclusive)")
    execution.add_argument("--html", metavar="FILE", help="also write a self-contained HTML page with a chart")
    return report


def run_report(args: argparse.Namespace, settings: Settings, *, stdout: TextIO | None = None,
               clock: Now = utc_now) -> int:
    """Print the execution-quality table (and write the HTML page). 0 on success, 2 on any error."""
    out = stdout or sys.stdout
    assert args.report_command == "execution", f"unknown report {args.report_command!r}"
    try:
        _check_range(args.date_from, args.date_to)
        builder = ReportBuilder(TierThresholds(settings.reports.significant_improvement_per_share))
        _feed_executions(builder, settings, args.date_from, args.date_to)
        report = builder.build(args.date_from, args.date_to)
        if args.html:
            _write_atomically(Path(args.html), render_html(report, clock()))
    except CliError as error:
        print(f"rfq-gateway report: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OperationalError as error:
        print(f"rfq-gateway report: error: database unavailable: {error.orig}", file=sys.stderr)
        return EXIT_ERROR
    lines = [f"execution quality {args.date_from.isoformat()} .. {args.date_to.isoformat()} (New York dates)"]
    for table in report_tables(report):
        lines += ["", table.title]
        lines += render_table(table.headers, table.rows, right_aligned=table.right_aligned)
        if not table.rows:
            lines.append("none")
    lines += ["", *footnotes(report)]
    if args.html:
        lines.append(f"HTML report written to {args.html}")
    print("\n".join(lines), file=out, flush=True)
    return EXIT_CLEAN


def _check_range(date_from: date, date_to: date) -> None:
    if date_from > date_to:
        raise CliError(f"--from {date_from.isoformat()} is after --to {date_to.isoformat()}")
    if date_to - date_from >= timedelta(days=MAX_REPORT_DAYS):
        raise CliError(f"the range covers more than {MAX_REPORT_DAYS} days; report a shorter one")


def _feed_executions(builder: ReportBuilder, settings: Settings, date_from: date, date_to: date) -> None:
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    try:
        with session_factory(engine)() as session, session.begin():
            builder.add_all(venue_executions(session, date_from, date_to, settings.broker.comp_id))
            builder.add_all(gateway_executions(session, date_from, date_to))
    finally:
        engine.dispose()


def _write_atomically(path: Path, text: str) -> None:
    """Readers never see half a page: write a temporary file next to it, then rename."""
    temporary: Path | None = None
    try:
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.resolve().parent, prefix=f".{path.name}.",
                                         suffix=".tmp", delete=False) as handle:
            temporary = Path(handle.name)
            handle.write(text)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise CliError(f"cannot write HTML report {path}: {error.strerror or error}") from None
