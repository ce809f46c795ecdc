"""Drop copy (gateway/handlers/drop_copy.py): every ExecutionReport to a requester and every fill
settled with a solver is copied to each drop-copy session, staged in the FIX outbox in the same
transaction as the original; partial fills end PartiallyFilled, not Filled."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from core.clock import FakeClock
from core.types import SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.book import RfqBook
from gateway.domain.commands import SessionStatusChanged
from gateway.domain.policy import Counterparty, Role
from gateway.domain.rfq import RfqState
from gateway.engine import RfqEngine
from gateway.fix.drop_copy_codec import encode_drop_copy
from gateway.handlers.drop_copy import copies_of
from gateway.models import FixOutboxRow, RfqRow
from gateway.outbox_codec import decode, encode
from gateway.repository import SqlGatewayUnitOfWork
from tests import stubs
from tests.unit.test_engine import FUNDING

DROP = SessionName("DROP1")


def _policy():
    base = stubs.policy()
    parties = {**base.counterparties, DROP: Counterparty(DROP, Role.DROP_COPY, "DROP1")}
    return stubs.policy(counterparties=parties)


class Rig:
    def __init__(self, sessions) -> None:
        self.clock = FakeClock(stubs.T0)
        self.sent: list = []
        self.uow = lambda: SqlGatewayUnitOfWork(sessions, self.clock)
        with self.uow() as uow:
            for owner, asset, amount in FUNDING:
                uow.ledger.deposit(owner, asset, Decimal(amount), idempotency_key=f"fund:{owner}:{asset}")
            uow.commit()
        self.engine = RfqEngine(_policy(), RfqBook(), self.uow, self.clock, self.sent.append)
        for session in ("REQ1", "SOLVER1", "SOLVER2", "DROP1"):
            self.engine.handle(SessionStatusChanged(SessionName(session), logged_on=True))

    def copies(self) -> list[out.DropCopyReport]:
        return [m for m in self.sent if isinstance(m, out.DropCopyReport)]

    def run_to_fill(self, quantity: Decimal) -> None:
        self.engine.handle(stubs.request_quote())
        self.engine.handle(stubs.submit_quote())
        self.engine.handle(stubs.accept_quote())
        self.engine.handle(stubs.report_fill(last_quantity=quantity, last_price=Decimal("227.95")))


@pytest.fixture
def rig(sessions):
    return Rig(sessions)


def test_every_requester_report_and_the_solver_fill_are_copied(rig):
    rig.run_to_fill(Decimal(10))
    copies = rig.copies()
    assert all(copy.to == DROP for copy in copies)
    requester = [(c.kind, c.exec_id) for c in copies if c.party_role is out.CopiedParty.REQUESTER]
    assert requester == [(out.ReportKind.NEW, "1-new"), (out.ReportKind.FILL, "1-fill")]
    [solver] = [c for c in copies if c.party_role is out.CopiedParty.SOLVER]
    assert (solver.party, solver.side, solver.exec_id, solver.cl_ord_id) == ("SOLVER1", Side.SELL, "e1", "acc-1")
    assert (solver.last_price, solver.last_quantity, solver.order_id) == (Decimal("227.95"), Decimal(10), "rfq-1")
    originals = [m for m in rig.sent if isinstance(m, out.RequesterReport)]
    assert [c.exec_id for c in copies if c.party == "REQ1"] == [r.exec_id for r in originals]
    assert not [m for m in rig.sent if getattr(m, "to", None) == DROP and not isinstance(m, out.DropCopyReport)]


def test_copies_are_staged_in_the_outbox_with_their_originals(rig):
    rig.run_to_fill(Decimal(10))
    with rig.uow() as uow:
        rows = [(row.session, row.message_type, row.payload)
                for row in uow.session.scalars(select(FixOutboxRow).order_by(FixOutboxRow.id))]
    # The last transaction (the fill) is still in the outbox (the next one marks it handed over):
    # its copies sit with the reports they copy.
    assert [(session, kind) for session, kind, _ in rows] == [
        ("REQ1", "RequesterReport"), ("SOLVER1", "ExecutionAck"), ("DROP1", "DropCopyReport"),
        ("DROP1", "DropCopyReport")]
    copies = [decode(kind, payload) for _, kind, payload in rows if kind == "DropCopyReport"]
    assert [(c.party, c.kind) for c in copies] == [("REQ1", out.ReportKind.FILL), ("SOLVER1", out.ReportKind.FILL)]


def test_a_partial_fill_ends_partially_filled_and_its_copies_say_so(rig):
    rig.run_to_fill(Decimal(4))
    assert rig.engine.book.rfq(1).state is RfqState.PARTIALLY_FILLED
    with rig.uow() as uow:
        assert uow.session.get(RfqRow, 1).state == "PartiallyFilled"
    kinds = [c.kind for c in rig.copies() if c.party == "REQ1"]
    assert kinds == [out.ReportKind.NEW, out.ReportKind.FILL, out.ReportKind.REMAINDER_RELEASED]


def test_a_repeated_fill_report_is_acknowledged_but_not_copied_again(rig):
    rig.run_to_fill(Decimal(10))
    before = len(rig.copies())
    rig.engine.handle(stubs.report_fill(last_quantity=Decimal(10), last_price=Decimal("227.95")))
    assert [m for m in rig.sent if isinstance(m, out.ExecutionAck)][-1].text == "already settled under this ExecID"
    assert len(rig.copies()) == before


def test_no_drop_copy_session_means_no_copies():
    report = out.RequesterReport(to=SessionName("REQ1"), kind=out.ReportKind.NEW, cl_ord_id="a", order_id="rfq-1",
                                 exec_id="1-new", symbol="AAPL", side=Side.BUY, order_quantity=Decimal(1),
                                 cum_quantity=Decimal(0), average_price=None)
    assert copies_of([report], ()) == []
    assert len(copies_of([report], (DROP, SessionName("DROP2")))) == 2


def test_a_copy_round_trips_the_outbox_and_renders_with_its_party(rig):
    rig.run_to_fill(Decimal(10))
    solver = next(c for c in rig.copies() if c.party_role is out.CopiedParty.SOLVER)
    assert decode(*encode(solver)) == solver
    text = encode_drop_copy(solver, stubs.T0).toString().replace("\x01", "|")
    for field in ("35=8", "797=Y", "453=1", "448=SOLVER1", "447=D", "452=35", "54=2", "17=e1", "11=acc-1"):
        assert f"|{field}|" in f"|{text}", field


def test_copies_a_crash_kept_from_quickfix_are_sent_again_at_start(rig):
    """Committed but not marked handed over (the gateway died after the commit): at the next start the
    copies go out again with the replies they copy (PossResend), never one without the other."""
    rig.run_to_fill(Decimal(10))
    resent: list = []
    restarted = RfqEngine(_policy(), RfqBook(), rig.uow, rig.clock, rig.sent.append, resend=resent.append)
    restarted.start()
    assert [(type(m).__name__, m.to) for m in resent] == [
        ("RequesterReport", "REQ1"), ("ExecutionAck", "SOLVER1"), ("DropCopyReport", "DROP1"),
        ("DropCopyReport", "DROP1")]
