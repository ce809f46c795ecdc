"""`rfq-gateway admin ...` and the access-control stores, on SQLite and PostgreSQL."""
from __future__ import annotations

import argparse
import io
import itertools
import os
import re
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.settings import SessionSection, Settings
from gateway.access.credentials import CredentialCache, CredentialStore
from gateway.access.models import OperatorCommandRow, SessionCredentialRow, SolverStatusRow
from gateway.access.operator import OperatorCommandKind, OperatorQueue, SolverStatusStore
from gateway.domain.policy import Role
from gateway.domain.rfq import ExecutionMode, RfqOrigin
from gateway.models import QuoteRow, RfqRow
from ledger.uow import SqlUnitOfWork
from ops.admin import ADMIN_PASSWORD_ENV, add_admin_parser, run_admin

UowFactory = Callable[..., SqlUnitOfWork]
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


class SessionWithLogon(SessionSection):
    """A [[sessions]] entry with the optional logon fields seed-credentials reads."""

    username: str | None = None
    password: str | None = None


SESSIONS = [
    SessionWithLogon(comp_id="REQ1", role=Role.REQUESTER, account="REQ1-ACC", username="req-user", password="rpw"),
    SessionWithLogon(comp_id="SOLVER1", role=Role.SOLVER, account="S1-ACC", username="sol1", password="s1pw"),
    SessionWithLogon(comp_id="SOLVER2", role=Role.SOLVER, account="S2-ACC"),
    SessionWithLogon(comp_id="BOTH1", role=Role.BOTH, account="B1-ACC", username="both", password="bpw"),
]


@pytest.fixture
def settings(db_url: str, tmp_path) -> Settings:
    return Settings().model_copy(update={"database_url": db_url, "sessions": SESSIONS, "data_dir": tmp_path})


def _run(settings: Settings, *argv: str, stdin: str | None = None, clock: Callable[[], datetime] = lambda: T0) -> int:
    parser = argparse.ArgumentParser(prog="rfq-gateway")
    add_admin_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["admin", *argv])
    return run_admin(args, settings, stdin=io.StringIO(stdin) if stdin is not None else None, clock=clock)


def _table(output: str, first_header: str) -> list[list[str]]:
    """Rows of the table whose header starts with `first_header` (log lines before it are skipped)."""
    lines = output.splitlines()
    start = next(index for index, line in enumerate(lines) if line.split()[:1] == [first_header])
    rows = []
    for line in lines[start + 1:]:
        if not line.strip() or not re.search(r"\S {2,}\S", line):
            break
        rows.append(re.split(r" {2,}", line.strip()))
    return rows


def _rfq(rfq_id: int, created_at: datetime, state: str, quantity: str, filled: str, average: str | None) -> RfqRow:
    return RfqRow(id=rfq_id, requester_session="REQ1", requester_account="REQ1-ACC", client_req_id=f"c{rfq_id}",
               symbol="AAPL", side="buy", quantity=Decimal(quantity), limit_price=None, state=state,
               mode=ExecutionMode.AWAIT_ACCEPT.value, origin=RfqOrigin.QUOTE_REQUEST.value,
               created_at=created_at, submission_deadline=created_at + timedelta(seconds=60),
               acceptance_deadline=created_at + timedelta(seconds=180), filled_quantity=Decimal(filled),
               average_price=Decimal(average) if average is not None else None, updated_at=created_at)


_QUOTE_SEQUENCE = itertools.count(1)


def _quote(quote_id: str, rfq_id: int, solver: str, bid: str | None, offer: str | None, received_at: datetime,
           status: str = "live") -> QuoteRow:
    return QuoteRow(id=quote_id, rfq_id=rfq_id, solver_session=solver, solver_account=f"{solver}-ACC",
                 solver_quote_id=f"sq-{quote_id}", bid_price=Decimal(bid) if bid else None,
                 offer_price=Decimal(offer) if offer else None, bid_size=None, offer_size=None,
                 valid_until=None, received_at=received_at, status=status,
                 sequence=next(_QUOTE_SEQUENCE))


def _count(uow_factory: UowFactory, model: type) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def test_sessions_shows_credentials_solver_status_and_last_logon(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str]) -> None:
    with uow_factory() as uow:
        CredentialStore(uow.session, clock=lambda: T0).set_password("REQ1", "req-user", "rpw")
        SolverStatusStore(uow.session, clock=lambda: T0).set_enabled("SOLVER2", False, "maintenance window")
        SolverStatusStore(uow.session, clock=lambda: T0).set_enabled("SOLVER1", True, "enabled by ops")
        uow.add_event("SessionLoggedOn", {"session": "SOLVER1"}, rfq_id=None, occurred_at=T0)
        uow.add_event("SessionLoggedOut", {"session": "SOLVER1"}, rfq_id=None, occurred_at=T0 + timedelta(seconds=5))
        uow.add_event("SessionLoggedOn", {"session": "SOLVER1"}, rfq_id=None, occurred_at=T0 + timedelta(seconds=9))
        uow.add_event("SessionLoggedOn", {"comp_id": "REQ1"}, rfq_id=None, occurred_at=T0 + timedelta(minutes=1))
        uow.add_event("SessionLoggedOn", {"other": "BOTH1"}, rfq_id=None, occurred_at=T0)
        uow.add_event("RfqCreated", {"session": "BOTH1"}, rfq_id=1, occurred_at=T0)
        uow.commit()
    # QuickFIX's file store and message log of REQ1's session (next to send 5, next expected 7).
    store, logs = settings.data_dir / "fix" / "gateway" / "store", settings.data_dir / "fix" / "gateway" / "log"
    store.mkdir(parents=True)
    logs.mkdir(parents=True)
    (store / "FIX.4.4-RFQGW-REQ1.seqnums").write_text("0000000005 : 0000000007")
    (logs / "FIX.4.4-RFQGW-REQ1.messages.current.log").write_text("8=FIX.4.4|...\n")
    last_message = (T0 + timedelta(minutes=2)).timestamp()
    os.utime(logs / "FIX.4.4-RFQGW-REQ1.messages.current.log", (last_message, last_message))
    assert _run(settings, "sessions") == 0
    assert _table(capsys.readouterr().out, "COMPID") == [
        ["REQ1", "requester", "REQ1-ACC", "set (req-user)", "-", "yes", "5", "7", "2026-11-20T15:02:00Z",
         "2026-11-20T15:01:00Z", "-"],
        ["SOLVER1", "solver", "S1-ACC", "not set", "enabled", "yes", "-", "-", "-", "2026-11-20T15:00:09Z",
         "2026-11-20T15:00:05Z"],
        ["SOLVER2", "solver", "S2-ACC", "not set", "disabled (maintenance window)", "no", "-", "-", "-", "-", "-"],
        ["BOTH1", "both", "B1-ACC", "not set", "enabled", "no", "-", "-", "-", "-", "-"],
    ]


def test_rfqs_newest_first_with_exact_decimals_state_filter_and_limit(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str]) -> None:
    with uow_factory() as uow:
        uow.session.add_all([
            _rfq(1, T0, "Filled", "100", "100", "227.123456789012"),
            _rfq(2, T0 + timedelta(seconds=1), "Quoting", "0.000000000001", "0", None),
            _rfq(3, T0 + timedelta(seconds=2), "Filled", "12345678901234567890.5", "12345678901234567890.5", "0.10"),
        ])
        uow.commit()
    assert _run(settings, "rfqs") == 0
    assert _table(capsys.readouterr().out, "ID") == [
        ["3", "REQ1", "AAPL", "buy", "12345678901234567890.5", "Filled", "2026-11-20T15:00:02Z",
         "12345678901234567890.5", "0.1"],
        ["2", "REQ1", "AAPL", "buy", "0.000000000001", "Quoting", "2026-11-20T15:00:01Z", "0", "-"],
        ["1", "REQ1", "AAPL", "buy", "100", "Filled", "2026-11-20T15:00:00Z", "100", "227.123456789012"],
    ]
    assert _run(settings, "rfqs", "--state", "Filled", "--limit", "1") == 0
    assert [row[0] for row in _table(capsys.readouterr().out, "ID")] == ["3"]
    assert _run(settings, "rfqs", "--state", "Expired") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no RFQs in state Expired"


def test_quotes_newest_first_and_filtered_by_rfq(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str]) -> None:
    with uow_factory() as uow:
        uow.session.add_all([_rfq(1, T0, "Quoting", "10", "0", None), _rfq(2, T0, "Quoting", "5", "0", None)])
        uow.session.flush()
        uow.session.add_all([
            _quote("Q1", 1, "SOLVER1", "227.10", "227.250000000001", T0 + timedelta(seconds=1), status="replaced"),
            _quote("Q2", 1, "SOLVER2", None, "227.2", T0 + timedelta(seconds=2)),
            _quote("Q3", 2, "SOLVER1", "415", None, T0 + timedelta(seconds=3)),
        ])
        uow.commit()
    assert _run(settings, "quotes") == 0
    assert _table(capsys.readouterr().out, "ID") == [
        ["Q3", "2", "SOLVER1", "415", "-", "live", "2026-11-20T15:00:03Z"],
        ["Q2", "1", "SOLVER2", "-", "227.2", "live", "2026-11-20T15:00:02Z"],
        ["Q1", "1", "SOLVER1", "227.1", "227.250000000001", "replaced", "2026-11-20T15:00:01Z"],
    ]
    assert _run(settings, "quotes", "--rfq", "1", "--limit", "1") == 0
    assert [row[0] for row in _table(capsys.readouterr().out, "ID")] == ["Q2"]
    assert _run(settings, "quotes", "--rfq", "99") == 0
    assert capsys.readouterr().out.splitlines()[-1] == "no quotes for RFQ 99"


def test_disable_then_enable_writes_status_and_two_commands_in_order(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(settings, "disable-solver", "SOLVER1", "--reason", "bad quotes") == 0
    out = capsys.readouterr().out
    assert "solver SOLVER1 disabled: bad quotes" in out
    assert re.search(r"queued operator command #\d+ disable_solver for the running gateway", out)
    with uow_factory() as uow:
        statuses = SolverStatusStore(uow.session)
        assert statuses.disabled() == {"SOLVER1"}
        assert statuses.is_enabled("SOLVER1") is False
        assert statuses.is_enabled("SOLVER2") is True  # no row: enabled

    later = T0 + timedelta(minutes=5)
    assert _run(settings, "enable-solver", "SOLVER1", clock=lambda: later) == 0
    assert "solver SOLVER1 enabled: enabled by " in capsys.readouterr().out
    with uow_factory() as uow:
        row = uow.session.get(SolverStatusRow, "SOLVER1")
        assert (row.enabled, row.changed_at) == (True, later)
        assert SolverStatusStore(uow.session).disabled() == set()
        pending = OperatorQueue(uow.session).pending(limit=10)
    assert [(command.command, command.comp_id, command.requested_at) for command in pending] == [
        (OperatorCommandKind.DISABLE_SOLVER, "SOLVER1", T0),
        (OperatorCommandKind.ENABLE_SOLVER, "SOLVER1", later),
    ]
    assert pending[0].id < pending[1].id
    assert all(command.applied_at is None and command.result is None for command in pending)


def test_engine_side_marks_commands_applied(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        queue = OperatorQueue(uow.session, clock=lambda: T0)
        first = queue.enqueue("disable_solver", "SOLVER1", "ops")
        second = queue.enqueue(OperatorCommandKind.ENABLE_SOLVER, "SOLVER1", "ops")
        uow.commit()
    applied_at = T0 + timedelta(seconds=2)
    with uow_factory() as uow:
        queue = OperatorQueue(uow.session)
        assert [command.id for command in queue.pending(limit=1)] == [first]
        assert queue.mark_applied(first, applied_at, "SOLVER1 disabled") is True
        assert queue.mark_applied(first, applied_at, "again") is False
        uow.commit()
    with uow_factory() as uow:
        assert [command.id for command in OperatorQueue(uow.session).pending(limit=10)] == [second]
        row = uow.session.get(OperatorCommandRow, first)
        assert (row.applied_at, row.result, row.requested_by) == (applied_at, "SOLVER1 disabled", "ops")
    with pytest.raises(ValueError), uow_factory() as uow:
        OperatorQueue(uow.session).enqueue("shutdown", "SOLVER1", "ops")


@pytest.mark.parametrize("argv", [
    ["disable-solver", "NOPE"], ["enable-solver", "NOPE"], ["set-password", "NOPE", "--username", "u"],
])
def test_unknown_comp_id_exits_2_with_a_clear_message_and_writes_nothing(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> None:
    monkeypatch.setenv(ADMIN_PASSWORD_ENV, "pw")
    assert _run(settings, *argv) == 2
    captured = capsys.readouterr()
    assert "'NOPE' is not a configured session (configured: BOTH1, REQ1, SOLVER1, SOLVER2)" in captured.err
    assert "COMPID" not in captured.out
    for model in (OperatorCommandRow, SolverStatusRow, SessionCredentialRow):
        assert _count(uow_factory, model) == 0


def test_a_requester_session_cannot_be_disabled_as_solver(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(settings, "disable-solver", "REQ1") == 2
    assert "'REQ1' is a requester session, not a solver" in capsys.readouterr().err
    assert _count(uow_factory, OperatorCommandRow) == 0
    assert _run(settings, "disable-solver", "BOTH1") == 0
    assert _count(uow_factory, OperatorCommandRow) == 1


def _logon_cache(uow_factory: UowFactory) -> CredentialCache:
    with uow_factory() as uow:
        return CredentialCache([section.comp_id for section in SESSIONS], CredentialStore(uow.session).all())


def test_set_password_from_stdin_or_environment(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADMIN_PASSWORD_ENV, raising=False)
    assert _run(settings, "set-password", "SOLVER1", "--username", "sol1", "--password-stdin",
                stdin="from-stdin\nignored\n") == 0
    out = capsys.readouterr().out
    assert "credentials set for SOLVER1 (username sol1)" in out and "from-stdin" not in out
    assert _logon_cache(uow_factory).check("SOLVER1", "sol1", "from-stdin").ok is True

    monkeypatch.setenv(ADMIN_PASSWORD_ENV, "from-env")
    assert _run(settings, "set-password", "SOLVER1", "--username", "sol1b") == 0
    cache = _logon_cache(uow_factory)
    assert cache.check("SOLVER1", "sol1b", "from-env").ok is True
    assert cache.check("SOLVER1", "sol1", "from-stdin").text == "wrong username or password"
    with uow_factory() as uow:
        assert "from-env" not in uow.session.get(SessionCredentialRow, "SOLVER1").password_hash


def test_set_password_without_a_password_source_exits_2(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ADMIN_PASSWORD_ENV, raising=False)
    assert _run(settings, "set-password", "REQ1", "--username", "u") == 2
    assert f"no password given: use --password-stdin or set {ADMIN_PASSWORD_ENV}" in capsys.readouterr().err
    assert _run(settings, "set-password", "REQ1", "--username", "u", "--password-stdin", stdin="\n") == 2
    assert "empty password on standard input" in capsys.readouterr().err
    assert _count(uow_factory, SessionCredentialRow) == 0


def test_seed_credentials_stores_configured_ones_once(
        settings: Settings, uow_factory: UowFactory, capsys: pytest.CaptureFixture[str]) -> None:
    with uow_factory() as uow:
        CredentialStore(uow.session).set_password("BOTH1", "both", "changed-by-operator")
        uow.commit()
    assert _run(settings, "seed-credentials") == 0
    out = capsys.readouterr().out
    assert _table(out, "COMPID") == [
        ["REQ1", "req-user", "stored"],
        ["SOLVER1", "sol1", "stored"],
        ["SOLVER2", "-", "skipped: no username/password in config"],
        ["BOTH1", "both", "kept: credentials already set"],
    ]
    assert "stored credentials for 2 of 4 configured sessions" in out
    assert "rpw" not in out and "s1pw" not in out
    with uow_factory() as uow:
        hashes_after_first_run = {comp_id: stored.password_hash
                                  for comp_id, stored in CredentialStore(uow.session).all().items()}
    assert _run(settings, "seed-credentials") == 0
    assert "stored credentials for 0 of 4 configured sessions" in capsys.readouterr().out
    with uow_factory() as uow:
        stored = CredentialStore(uow.session).all()
    assert {comp_id: entry.password_hash for comp_id, entry in stored.items()} == hashes_after_first_run
    cache = _logon_cache(uow_factory)
    assert cache.check("REQ1", "req-user", "rpw").ok is True
    assert cache.check("BOTH1", "both", "changed-by-operator").ok is True
    assert cache.check("SOLVER2", "x", "y").text == "no credentials configured for SOLVER2"


def test_credential_store_remove(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        store = CredentialStore(uow.session, clock=lambda: T0)
        store.set_password("REQ1", "alice", "pw")
        assert store.all()["REQ1"].updated_at == T0
        assert store.remove("REQ1") is True
        assert store.remove("REQ1") is False
        assert store.all() == {}
