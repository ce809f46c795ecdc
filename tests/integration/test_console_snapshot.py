"""The console's snapshot and its rendered sections, on SQLite and on PostgreSQL."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from app.console import run_console
from app.settings import Settings
from gateway.access.operator import OperatorCommandKind, OperatorQueue, SolverStatusStore
from gateway.domain.rfq import ExecutionMode, RfqOrigin
from gateway.models import FillRow, QuoteRow, RfqRow
from ops.console.actions import OperatorActions
from ops.console.render import SECTIONS, Renderer
from ops.console.snapshot import ConsoleScope, read_snapshot
from ops.sessions_view import SessionRow
from recon.models import ReconBreak, ReconRun

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
SCOPE = ConsoleScope(("SOLVER1", "SOLVER2"), Decimal(20), Decimal(0))


def _rfq(rfq_id: int, state: str) -> RfqRow:
    return RfqRow(id=rfq_id, requester_session="REQ1", requester_account="REQ1", client_req_id=f"c{rfq_id}",
                  symbol="AAPL", side="buy", quantity=Decimal(10), limit_price=None, state=state,
                  mode=ExecutionMode.AWAIT_ACCEPT.value, origin=RfqOrigin.QUOTE_REQUEST.value, created_at=T0,
                  submission_deadline=T0 + timedelta(seconds=60), acceptance_deadline=T0 + timedelta(seconds=180),
                  filled_quantity=Decimal(10) if state == "Filled" else Decimal(0),
                  average_price=Decimal("227.5") if state == "Filled" else None, updated_at=T0)


def _quote(quote_id: str, rfq_id: int, solver: str, sequence: int, status: str) -> QuoteRow:
    return QuoteRow(id=quote_id, rfq_id=rfq_id, solver_session=solver, solver_account=solver,
                    solver_quote_id=f"s-{quote_id}", bid_price=Decimal("227.1"), offer_price=Decimal("227.5"),
                    bid_size=None, offer_size=None, valid_until=None, received_at=T0 + timedelta(seconds=1),
                    status=status, sequence=sequence)


def _seed(uow_factory) -> None:
    with uow_factory() as uow:
        session = uow.session
        session.add_all([_rfq(1, "Filled"), _rfq(2, "Quoting")])
        session.flush()
        session.add_all([_quote("q1-1", 1, "SOLVER1", 1, "accepted"), _quote("q2-2", 2, "SOLVER2", 2, "live")])
        session.flush()
        session.add(FillRow(rfq_id=1, quote_id="q1-1", exec_id="e1", last_price=Decimal("227.5"),
                            last_quantity=Decimal(10), nbbo_bid=Decimal("227.4"), nbbo_offer=Decimal("227.6"),
                            created_at=T0 + timedelta(seconds=3)))
        run = ReconRun(trade_date=date(2026, 11, 20), settlement_date=date(2026, 11, 23), statement_file="s.csv",
                       statement_sha256="0" * 64, statement_rows=1, price_tolerance=Decimal("0.0001"),
                       started_at=T0, matched=0, breaks=1)
        session.add(run)
        session.flush()
        session.add(ReconBreak(run_id=run.id, kind="price_mismatch", trade_id="T-1", symbol="AAPL", ours="227.5",
                               theirs="227.6"))
        SolverStatusStore(session, lambda: T0).set_enabled("SOLVER2", False, "maintenance <b>window</b>")
        OperatorQueue(session, lambda: T0).enqueue(OperatorCommandKind.DISABLE_SOLVER, "SOLVER2", "operator")
        uow.commit()


def test_the_snapshot_shows_every_section_and_escapes_what_it_shows(uow_factory, sessions) -> None:
    _seed(uow_factory)
    rows = [SessionRow("REQ1", "requester", "REQ1", True, 5, 7, T0, T0, None)]
    with sessions() as session:
        snapshot = read_snapshot(session, rows, SCOPE, T0 + timedelta(seconds=10))
    assert [rfq.rfq_id for rfq in snapshot.rfqs] == [2] and [rfq.rfq_id for rfq in snapshot.recent] == [1]
    assert [(q.solver, q.status) for q in snapshot.rfqs[0].quotes] == [("SOLVER2", "live")]
    assert [(f.rfq_id, f.solver, f.price, f.nbbo, f.settlement) for f in snapshot.fills] == [
        (1, "SOLVER1", Decimal("227.5"), "227.4 / 227.6", "settled")]
    assert [(b.kind, b.trade_id) for b in snapshot.breaks] == [("price_mismatch", "T-1")]
    assert [(s.comp_id, s.enabled) for s in snapshot.solvers] == [("SOLVER1", True), ("SOLVER2", False)]
    assert {m.market_session: m.source for m in snapshot.margins}["regular"] == "config"
    assert [(c.command, c.comp_id, c.result) for c in snapshot.commands] == [("disable_solver", "SOLVER2", None)]
    assert snapshot.quality is not None and [s.overall.fills for s in snapshot.quality.sections][0] == 1

    fragments = Renderer().fragments(snapshot)
    assert set(fragments) == set(SECTIONS)
    assert 'data-deadline="2026-11-20T15:01:00+00:00"' in fragments["rfqs"]  # counted down in the browser
    assert 'data-deadline="2026-11-20T15:03:00+00:00"' in fragments["rfqs"]
    assert "disabled (maintenance &lt;b&gt;window&lt;/b&gt;)" in fragments["solvers"]  # escaped
    assert "<b>" not in fragments["solvers"]
    assert "<svg" in fragments["quality"] and "SOLVER1" in fragments["quality"]
    assert 'data-session="REQ1"' in fragments["sessions"] and ">7<" in fragments["sessions"]


def test_a_margin_set_from_the_console_is_in_force_and_audited(uow_factory, sessions) -> None:
    settings = Settings()
    actions = OperatorActions(sessions, SCOPE.solver_ids, settings.broker.comp_id, lambda: T0)
    result = actions.set_margin("overnight", "35", "2", "alice")
    with sessions() as session:
        snapshot = read_snapshot(session, [], SCOPE, T0, with_quality=False)
    margin = {m.market_session: m for m in snapshot.margins}["overnight"]
    assert (margin.margin_bps, margin.aggression_bps, margin.source) == (Decimal(35), Decimal(2), "set by alice")
    command = snapshot.commands[0]
    assert (command.id, command.command, command.comp_id, command.requested_by) == (
        result.command_id, "set_broker_margin", "BROKER", "alice")
    assert command.result == "overnight: margin 35 bps, aggression 2 bps"


def test_the_console_does_not_start_without_an_operator_password(db_url, tmp_path, capsys) -> None:
    base = Settings()
    settings = base.model_copy(update={"database_url": db_url, "data_dir": tmp_path,
                                       "console": base.console.model_copy(update={"password": None})})
    assert run_console(settings) == 2
    assert "needs an operator password" in capsys.readouterr().out
