"""The engine's error boundary (issue 8): an unexpected exception in any handler rolls the
transaction back, answers the message with the reject that fits it, and writes nothing."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from core.clock import FakeClock
from core.refusal import RejectReason
from core.types import SessionName, Side
from gateway import repository
from gateway.domain import outbound as out
from gateway.domain.book import Changeset
from gateway.domain.commands import CancelQuote, CancelRfq, QueryOrder, SessionStatusChanged
from gateway.domain.rfq import RfqOrigin
from gateway.handlers import intake as handlers_intake
from gateway.handlers import lifecycle as handlers_lifecycle
from gateway.handlers import quotes as handlers_quotes
from gateway.handlers import settlement as handlers_settlement
from gateway.models import FillRow, QuoteRow, RfqRow
from gateway.repository import SqlGatewayStore
from ledger.models import Hold, JournalEntry, JournalLine, OutboxRow
from tests import stubs
from tests.unit.test_engine import Harness


class Injected(RuntimeError):
    """The fault a test puts into a handler."""


def _boom(*args, **kwargs):
    raise Injected("injected fault")


def table_counts(harness) -> dict[str, int]:
    with harness.uow() as uow:
        return {table.__tablename__: uow.session.scalar(select(func.count()).select_from(table))
                for table in (RfqRow, QuoteRow, FillRow, JournalEntry, JournalLine,
                              Hold, OutboxRow)}


@pytest.fixture
def harness(sessions):
    return Harness(sessions, FakeClock(stubs.T0))


def _accepted(harness) -> None:
    """An RFQ accepted by REQ1 (quote of SOLVER1), waiting for SOLVER1's execution report."""
    presented = harness.quoted_rfq()
    harness.engine.handle(stubs.accept_quote(quote_id=presented.quote_id))
    harness.sent.clear()


CASES = [
    # (name, module, function, setup, command, expected reply type, check)
    ("quote request", handlers_intake, "request_quote", None, stubs.request_quote(client_req_id="c9"),
     out.RejectQuoteRequest, lambda m: m.reason is RejectReason.OTHER and m.client_req_id == "c9"),
    ("order", handlers_intake, "request_quote", None,
     stubs.request_quote(client_req_id="o9", origin=RfqOrigin.ORDER, limit_price=Decimal("230")),
     out.RequesterReport, lambda m: m.kind is out.ReportKind.REJECTED and m.cl_ord_id == "o9"),
    ("quote", handlers_quotes, "submit_quote", "rfq", stubs.submit_quote(solver="SOLVER2", solver_quote_id="s2"),
     out.QuoteStatusReport, lambda m: m.status is out.QuoteAck.REJECTED and m.quote_id == "s2"),
    ("quote cancel", handlers_quotes, "cancel_quote", "rfq",
     CancelQuote(SessionName("SOLVER1"), "rfq-1", "s1"),
     out.BusinessReject, lambda m: m.ref_msg_type == "Z"),
    ("rfq cancel", handlers_lifecycle, "cancel_rfq", "rfq",
     CancelRfq(SessionName("REQ1"), "c1", "c1"), out.BusinessReject, lambda m: m.ref_msg_type == "Z"),
    ("acceptance", handlers_settlement, "accept_quote", "rfq", stubs.accept_quote(quote_id="q1-1"),
     out.BusinessReject, lambda m: m.ref_msg_type == "AJ" and m.ref_id == "a1"),
    ("execution report", handlers_settlement, "report_execution", "accepted", stubs.report_fill(),
     out.ExecutionAck, lambda m: m.status is out.ExecutionAckStatus.REFUSED and m.exec_id == "e1"),
    ("status request", handlers_lifecycle, "order_status", None,
     QueryOrder(SessionName("REQ1"), "c1", "AAPL", Side.BUY), out.BusinessReject, lambda m: m.ref_msg_type == "H"),
]


@pytest.mark.parametrize("name, module, function, setup, command, reply_type, check", CASES,
                         ids=[case[0] for case in CASES])
def test_a_fault_in_any_handler_is_answered_once_and_writes_nothing(
        harness, monkeypatch, name, module, function, setup, command, reply_type, check):
    if setup == "rfq":
        harness.quoted_rfq()
    elif setup == "accepted":
        _accepted(harness)
    harness.sent.clear()
    before = table_counts(harness)
    monkeypatch.setattr(module, function, _boom)
    harness.engine.handle(command)
    assert len(harness.sent) == 1, harness.sent
    reply = harness.sent[0]
    assert isinstance(reply, reply_type) and check(reply), reply
    assert "internal error" in reply.text
    assert table_counts(harness) == before
    assert harness.invariants() == []


def test_a_fault_while_writing_rolls_back_the_ledger_too(harness, monkeypatch):
    """The lock is written, then the save fails: the hold must not survive."""
    presented = harness.quoted_rfq()
    harness.sent.clear()
    before = table_counts(harness)
    monkeypatch.setattr(SqlGatewayStore, "save", _boom)
    harness.engine.handle(stubs.accept_quote(quote_id=presented.quote_id))
    assert [type(m) for m in harness.sent] == [out.BusinessReject]
    assert table_counts(harness) == before
    assert harness.balance("REQ1", "USDC").locked == 0


def test_a_session_status_fault_is_logged_and_the_engine_goes_on(harness, monkeypatch):
    monkeypatch.setattr(handlers_quotes, "withdraw_solver", _boom)
    harness.engine.handle(SessionStatusChanged(SessionName("SOLVER2"), logged_on=False))
    assert harness.sent == []
    monkeypatch.undo()
    harness.engine.handle(stubs.request_quote(client_req_id="after"))
    assert harness.take(out.ForwardQuoteRequest)


def test_a_quote_request_id_reused_after_the_book_forgot_it_is_a_duplicate(harness):
    harness.engine.handle(stubs.request_quote(client_req_id="reused"))
    harness.engine.book.forget_terminal(0)
    harness.engine.book = type(harness.engine.book)(next_rfq_id=50)  # as after a restart with nothing loaded
    harness.engine.handle(SessionStatusChanged(SessionName("SOLVER1"), logged_on=True))
    harness.sent.clear()
    harness.engine.handle(stubs.request_quote(client_req_id="reused"))
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.reason is RejectReason.DUPLICATE_ID


def _failing_for(client_req_id: str, error: Exception):
    """save_changeset that fails (at the batch's flush) whenever the RFQ `client_req_id` is among its rows."""
    real = repository.save_changeset

    def save(uow, changes):
        if any(rfq.client_req_id == client_req_id for rfq in changes.rfqs):
            raise error
        real(uow, changes)

    return save


def test_a_batch_whose_write_fails_is_decided_again_one_command_at_a_time(harness, monkeypatch):
    """The rows of a batch are written together at its commit; when that write fails, no other
    command of the batch pays for it: each is decided again alone, only the culprit is refused."""
    monkeypatch.setattr(repository, "save_changeset",
                        _failing_for("bad", IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))))
    harness.engine.handle_batch([stubs.request_quote(client_req_id=client_id) for client_id in ("a", "bad", "b")])
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.client_req_id == "bad" and reject.reason is RejectReason.DUPLICATE_ID
    assert len(harness.take(out.ForwardQuoteRequest, to=SessionName("SOLVER1"))) == 2
    with harness.uow() as uow:
        stored = set(uow.session.scalars(select(RfqRow.client_req_id)))
    assert stored == {"a", "b"}
    assert harness.invariants() == []


def test_a_lone_command_whose_write_fails_is_refused_with_nothing_written(harness, monkeypatch):
    before = table_counts(harness)
    monkeypatch.setattr(repository, "save_changeset", _failing_for("c7", Injected("disk gone")))
    harness.engine.handle_batch([stubs.request_quote(client_req_id="c7")])
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.reason is RejectReason.OTHER and "internal error" in reject.text
    assert table_counts(harness) == before
    assert harness.balance("REQ1", "USDC").locked == 0


def test_staged_rows_are_never_written_inside_a_commands_savepoint(harness):
    """A savepoint holds one command's postings; rows other commands staged must outlive its rollback."""
    with harness.uow() as uow:
        uow.store.save(Changeset(rfqs=[]))
        with pytest.raises(AssertionError):
            with uow.savepoint():
                uow.store.rfq_by_acceptance(SessionName("REQ1"), "x")  # a read that flushes


def test_rows_staged_in_a_savepoint_that_failed_never_reach_the_database(harness, monkeypatch):
    """The acceptance's postings are rolled back with its savepoint; the rows it staged there must not
    be written with the batch: the batch is decided again command by command, the acceptance refused."""
    presented = harness.quoted_rfq()
    harness.sent.clear()
    real_save = SqlGatewayStore.save

    def stage_then_fail(store, changes):
        real_save(store, changes)
        if changes.ledger:
            raise Injected("after staging, inside the savepoint")

    monkeypatch.setattr(SqlGatewayStore, "save", stage_then_fail)
    harness.engine.handle_batch([stubs.accept_quote(quote_id=presented.quote_id),
                                 stubs.request_quote(client_req_id="unharmed")])
    assert [type(m) for m in harness.take(out.BusinessReject)] == [out.BusinessReject]
    assert harness.take(out.ForwardQuoteRequest)  # the other command of the batch went through
    with harness.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Hold)) == 0
        accepted = uow.session.scalar(select(RfqRow.accepted_quote_id).where(RfqRow.id == 1))
    assert accepted is None
    assert harness.balance("REQ1", "USDC").locked == 0
    assert harness.invariants() == []
