"""`rfq-gateway admin ...`: the operator's view of sessions, RFQs and quotes, and its controls.

The CLI is a separate process from the running gateway: it reads and writes the settlement
database only. Solver switches are written to solver_status and queued in operator_commands,
which the running engine polls and applies.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from core.clock import Now, utc_now
from core.money import canonical_decimal_text
from db.engine import create_db_engine, session_factory, upgrade_to_head
from gateway.access.credentials import MAX_PASSWORD_BYTES, CredentialStore
from gateway.access.models import REASON_LENGTH, USERNAME_LENGTH
from gateway.access.operator import OperatorCommandKind, OperatorQueue, SolverStatus, SolverStatusStore
from gateway.domain.policy import Role
from gateway.domain.rfq import RfqState
from gateway.models import QuoteRow, RfqRow
from ops.margin_admin import STATUS_CHOICES, liquidation_lines, margin_lines, settings_marks
from ops.sessions_view import ConfiguredSession, FileSessionSource, last_session_events

if TYPE_CHECKING:
    from app.settings import Settings

ADMIN_PASSWORD_ENV = "RFQ_ADMIN_PASSWORD"
EXIT_ERROR = 2
DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


class AdminError(Exception):
    """Something the operator has to correct: printed to stderr, exit code 2."""


@dataclass(frozen=True)
class _Context:
    session: Session
    args: argparse.Namespace
    settings: Settings
    clock: Now
    operator: str
    password: str | None


def _limit(text: str) -> int:
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_LIMIT}")
    return value


def add_admin_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add `admin` and its subcommands to the `rfq-gateway` subparsers; dispatch with run_admin."""
    admin = subparsers.add_parser("admin", help="operator commands: sessions, RFQs, quotes, solvers, credentials")
    commands = admin.add_subparsers(dest="admin_command", required=True, metavar="SUBCOMMAND")
    commands.add_parser("sessions", help="configured FIX sessions, credentials, solver status, last logon/logout")
    rfqs = commands.add_parser("rfqs", help="RFQs, newest first")
    rfqs.add_argument("--state", choices=[state.value for state in RfqState])
    rfqs.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT, help=f"rows (1..{MAX_LIMIT})")
    quotes = commands.add_parser("quotes", help="quotes, newest first")
    quotes.add_argument("--rfq", type=int, metavar="ID", help="only quotes of this RFQ")
    quotes.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT, help=f"rows (1..{MAX_LIMIT})")
    disable = commands.add_parser("disable-solver", help="stop sending RFQs to a solver session")
    disable.add_argument("comp_id", metavar="COMPID")
    disable.add_argument("--reason", metavar="TEXT", help=f"why (up to {REASON_LENGTH} characters)")
    enable = commands.add_parser("enable-solver", help="send RFQs to a solver session again")
    enable.add_argument("comp_id", metavar="COMPID")
    password = commands.add_parser("set-password", help=f"set a session's logon credentials (password from "
                                   f"--password-stdin or ${ADMIN_PASSWORD_ENV})")
    password.add_argument("comp_id", metavar="COMPID")
    password.add_argument("--username", required=True, metavar="U")
    password.add_argument("--password-stdin", action="store_true", help="read the password from the first line "
                          "of standard input")
    commands.add_parser("seed-credentials", help="store the username/password of configured sessions not set yet")
    margin = commands.add_parser("margin", help="an account's collateral, weights, liabilities, IMF/MMF, "
                                 "distance to liquidation")
    margin.add_argument("account", metavar="ACCOUNT")
    liquidations = commands.add_parser("liquidations", help="collateral conversions of the margin monitor "
                                       "(escalated first)")
    liquidations.add_argument("--status", choices=STATUS_CHOICES)
    liquidations.add_argument("--limit", type=_limit, default=DEFAULT_LIMIT, help=f"rows (1..{MAX_LIMIT})")
    return admin


def run_admin(args: argparse.Namespace, settings: Settings, *, stdin: TextIO | None = None,
              clock: Now = utc_now) -> int:
    """Run one `admin` subcommand; prints a table or a summary. 0 on success, 2 on any error."""
    try:
        _check_arguments(args, settings)
        password = _password_input(args, stdin or sys.stdin) if args.admin_command == "set-password" else None
        lines = _run_in_database(args, settings, clock, password)
    except AdminError as error:
        print(f"rfq-gateway admin: error: {error}", file=sys.stderr)
        return EXIT_ERROR
    except OperationalError as error:
        print(f"rfq-gateway admin: error: database unavailable: {error.orig}", file=sys.stderr)
        return EXIT_ERROR
    print("\n".join(lines), flush=True)
    return 0


def _check_arguments(args: argparse.Namespace, settings: Settings) -> None:
    """Refuse bad input before touching the database."""
    if args.admin_command in ("disable-solver", "enable-solver"):
        _configured_solver(settings, args.comp_id)
        if len(getattr(args, "reason", None) or "") > REASON_LENGTH:
            raise AdminError(f"reason longer than {REASON_LENGTH} characters")
    if args.admin_command == "set-password":
        _configured_session(settings, args.comp_id)
        if not 0 < len(args.username) <= USERNAME_LENGTH:
            raise AdminError(f"username must be 1..{USERNAME_LENGTH} characters")


def _run_in_database(args: argparse.Namespace, settings: Settings, clock: Now, password: str | None) -> list[str]:
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    try:
        # One transaction per command: a solver's status and the engine's command commit together.
        with session_factory(engine)() as session, session.begin():
            context = _Context(session, args, settings, clock, _operator_name(), password)
            return _HANDLERS[args.admin_command](context)
    finally:
        engine.dispose()


def _operator_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (e.g. some containers)
        return "unknown"


def _password_input(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.password_stdin:
        password = stdin.readline().rstrip("\r\n")
        source = "standard input"
    else:
        password = os.environ.get(ADMIN_PASSWORD_ENV, "")
        source = f"${ADMIN_PASSWORD_ENV}"
        if not password:
            raise AdminError(f"no password given: use --password-stdin or set {ADMIN_PASSWORD_ENV}")
    if not password:
        raise AdminError(f"empty password on {source}")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise AdminError(f"password longer than {MAX_PASSWORD_BYTES} bytes (UTF-8)")
    return password


# ---- rendering -------------------------------------------------------------------------------

def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]], right_aligned: frozenset[int] = frozenset()
                 ) -> list[str]:
    """Plain text columns two spaces apart; numeric columns right-aligned so digits line up."""
    assert all(len(row) == len(headers) for row in rows), "every row needs one cell per header"
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows)]

    def line(cells: Sequence[str]) -> str:
        padded = [cell.rjust(width) if index in right_aligned else cell.ljust(width)
                  for index, (cell, width) in enumerate(zip(cells, widths))]
        return "  ".join(padded).rstrip()

    return [line(headers), *(line(row) for row in rows)]


def _decimal(value: Decimal | None) -> str:
    return "-" if value is None else canonical_decimal_text(value)


def _time(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---- read-only views -------------------------------------------------------------------------

def _solver_cell(role: Role, status: SolverStatus | None) -> str:
    if not Role(role).can_quote():
        return "-"
    if status is None or status.enabled:
        return "enabled"
    return f"disabled ({status.reason})" if status.reason else "disabled"


def _sessions(context: _Context) -> list[str]:
    credentials = CredentialStore(context.session).all()
    statuses = SolverStatusStore(context.session).all()
    settings = context.settings
    source = FileSessionSource([ConfiguredSession(s.comp_id, Role(s.role).value, s.account) for s in settings.sessions],
                               settings.gateway.comp_id, settings.resolved_data_dir(), lambda: context.session)
    rows = []
    for section, view in zip(settings.sessions, source.rows_from(last_session_events(context.session))):
        stored = credentials.get(view.comp_id)
        rows.append([view.comp_id, view.role, view.account,
                     f"set ({stored.username})" if stored else "not set",
                     _solver_cell(section.role, statuses.get(view.comp_id)),
                     "yes" if view.logged_on else "no", _number(view.next_sender_seq), _number(view.next_target_seq),
                     _time(view.last_message_at), _time(view.last_logon), _time(view.last_logout)])
    if not rows:
        return ["no sessions configured"]
    headers = ["COMPID", "ROLE", "ACCOUNT", "CREDENTIALS", "SOLVER", "LOGGED_ON", "NEXT_OUT", "NEXT_IN", "LAST_MESSAGE",
               "LAST_LOGON", "LAST_LOGOUT"]
    return [*render_table(headers, rows, right_aligned=frozenset({6, 7})),
            "LOGGED_ON: the newest logon/logout event (a crashed gateway may still show yes); NEXT_OUT/NEXT_IN: the "
            "next MsgSeqNum to send/expected (QuickFIX's store)"]


def _number(value: int | None) -> str:
    return "-" if value is None else str(value)


def _rfqs(context: _Context) -> list[str]:
    statement = select(RfqRow).order_by(RfqRow.created_at.desc(), RfqRow.id.desc()).limit(context.args.limit)
    if context.args.state:
        statement = statement.where(RfqRow.state == context.args.state)
    rows = [[str(rfq.id), rfq.requester_session, rfq.symbol, rfq.side, _decimal(rfq.quantity), rfq.state,
             _time(rfq.created_at), _decimal(rfq.filled_quantity), _decimal(rfq.average_price)]
            for rfq in context.session.scalars(statement)]
    if not rows:
        return ["no RFQs" + (f" in state {context.args.state}" if context.args.state else "")]
    headers = ["ID", "REQUESTER", "SYMBOL", "SIDE", "QTY", "STATE", "CREATED", "FILLED", "AVG_PRICE"]
    return render_table(headers, rows, right_aligned=frozenset({0, 4, 7, 8}))


def _quotes(context: _Context) -> list[str]:
    statement = select(QuoteRow).order_by(QuoteRow.received_at.desc(), QuoteRow.id.desc()).limit(context.args.limit)
    if context.args.rfq is not None:
        statement = statement.where(QuoteRow.rfq_id == context.args.rfq)
    rows = [[quote.id, str(quote.rfq_id), quote.solver_session, _decimal(quote.bid_price),
             _decimal(quote.offer_price), quote.status, _time(quote.received_at)]
            for quote in context.session.scalars(statement)]
    if not rows:
        return ["no quotes" + (f" for RFQ {context.args.rfq}" if context.args.rfq is not None else "")]
    headers = ["ID", "RFQ", "SOLVER", "BID", "OFFER", "STATUS", "RECEIVED"]
    return render_table(headers, rows, right_aligned=frozenset({1, 3, 4}))


# ---- controls --------------------------------------------------------------------------------

def _configured_session(settings: Settings, comp_id: str) -> Any:
    sections = {section.comp_id: section for section in settings.sessions}
    if comp_id not in sections:
        configured = ", ".join(sorted(sections)) or "none"
        raise AdminError(f"{comp_id!r} is not a configured session (configured: {configured})")
    return sections[comp_id]


def _configured_solver(settings: Settings, comp_id: str) -> str:
    section = _configured_session(settings, comp_id)
    if not Role(section.role).can_quote():
        raise AdminError(f"{comp_id!r} is a {Role(section.role).value} session, not a solver")
    return comp_id


def _switch_solver(context: _Context, enabled: bool) -> list[str]:
    comp_id = _configured_solver(context.settings, context.args.comp_id)
    verb = "enabled" if enabled else "disabled"
    reason = getattr(context.args, "reason", None) or f"{verb} by {context.operator}"
    statuses = SolverStatusStore(context.session, context.clock)
    was_enabled = statuses.is_enabled(comp_id)
    statuses.set_enabled(comp_id, enabled, reason)
    kind = OperatorCommandKind.ENABLE_SOLVER if enabled else OperatorCommandKind.DISABLE_SOLVER
    command_id = OperatorQueue(context.session, context.clock).enqueue(kind, comp_id, context.operator)
    already = f" (it was already {verb})" if was_enabled == enabled else ""
    return [f"solver {comp_id} {verb}{already}: {reason}",
            f"queued operator command #{command_id} {kind.value} for the running gateway"]


def _set_password(context: _Context) -> list[str]:
    comp_id = _configured_session(context.settings, context.args.comp_id).comp_id
    username = context.args.username
    assert context.password is not None, "set-password reads the password before opening the database"
    CredentialStore(context.session, context.clock).set_password(comp_id, username, context.password)
    return [f"credentials set for {comp_id} (username {username})"]


def _configured_secret(value: Any) -> str | None:
    # The password may be configured as a pydantic SecretStr; never print it either way.
    if value is not None and hasattr(value, "get_secret_value"):
        value = value.get_secret_value()
    return value or None


def _seed_credentials(context: _Context) -> list[str]:
    store = CredentialStore(context.session, context.clock)
    existing = store.all()
    rows, stored = [], 0
    for section in context.settings.sessions:
        username = getattr(section, "username", None)
        password = _configured_secret(getattr(section, "password", None))
        if not username or not password:
            action = "skipped: no username/password in config"
        elif len(username) > USERNAME_LENGTH:
            action = f"skipped: username longer than {USERNAME_LENGTH} characters"
        elif section.comp_id in existing:
            action = "kept: credentials already set"
        else:
            store.set_password(section.comp_id, username, password)
            action, stored = "stored", stored + 1
        rows.append([section.comp_id, username or "-", action])
    if not rows:
        return ["no sessions configured"]
    return [*render_table(["COMPID", "USERNAME", "ACTION"], rows),
            f"stored credentials for {stored} of {len(rows)} configured sessions"]


_HANDLERS: dict[str, Callable[[_Context], list[str]]] = {
    "sessions": _sessions,
    "rfqs": _rfqs,
    "quotes": _quotes,
    "disable-solver": lambda context: _switch_solver(context, enabled=False),
    "enable-solver": lambda context: _switch_solver(context, enabled=True),
    "set-password": _set_password,
    "seed-credentials": _seed_credentials,
    "margin": lambda context: margin_lines(context.session, context.settings, context.args.account,
                                           settings_marks(context.settings), render_table),
    "liquidations": lambda context: liquidation_lines(context.session, context.args.status, context.args.limit,
                                                      render_table),
}
