"""The RFQ engine end to end without sockets: real SQL unit of work (SQLite and
PostgreSQL), an injected clock, and the outbound messages captured as values."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.clock import FakeClock
from core.refusal import RejectReason
from core.types import SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.book import RfqBook
from gateway.domain.commands import ExecutionOutcome, SessionStatusChanged
from gateway.domain.rfq import RfqState
from gateway.engine import RfqEngine
from gateway.models import FillRow, RfqRow
from gateway.repository import SqlGatewayUnitOfWork, load_book
from ledger.models import OutboxRow
from tests import stubs

FUNDING = [("REQ1", "USDC", "100000.00"), ("REQ1", "AAPL", "50"), ("SOLVER1", "USDC", "100000.00"),
           ("SOLVER1", "AAPL", "1000"), ("SOLVER2", "USDC", "100000.00"), ("SOLVER2", "AAPL", "1000")]


class Harness:
    def __init__(self, sessions, clock: FakeClock, funding=FUNDING, policy=None) -> None:
        self.clock = clock
        self.sent: list = []
        self.uow = lambda: SqlGatewayUnitOfWork(sessions, clock)
        with self.uow() as uow:
            for owner, asset, amount in funding:
                uow.ledger.deposit(owner, asset, Decimal(amount), idempotency_key=f"fund:{owner}:{asset}")
            self.fund(uow)
            uow.commit()
        self.engine = RfqEngine(policy or stubs.policy(), RfqBook(), self.uow, clock, self.sent.append)
        for session in ("REQ1", "SOLVER1", "SOLVER2"):
            self.engine.handle(SessionStatusChanged(SessionName(session), logged_on=True))

    def fund(self, uow) -> None:
        """More opening money, in the funding transaction (a subclass's)."""

    def take(self, kind, to=None) -> list:
        found = [m for m in self.sent if isinstance(m, kind) and (to is None or m.to == to)]
        self.sent[:] = [m for m in self.sent if m not in found]
        return found

    def balance(self, owner, asset):
        with self.uow() as uow:
            return uow.ledger.balance(owner, asset)

    def invariants(self):
        with self.uow() as uow:
            return uow.ledger.check_invariants()

    def quoted_rfq(self, side=Side.BUY, quantity=Decimal(10)):
        self.engine.handle(stubs.request_quote(side=side, quantity=quantity))
        self.engine.handle(stubs.submit_quote(solver="SOLVER1", solver_quote_id="s1",
                                              offer_price=Decimal("228.00"), bid_price=Decimal("227.00")))
        return self.take(out.PresentQuote, to="REQ1")[-1]


@pytest.fixture
def harness(sessions):
    return Harness(sessions, FakeClock(stubs.T0))


def test_request_is_persisted_and_forwarded_to_every_solver_under_the_gateways_id(harness):
    harness.engine.handle(stubs.request_quote())
    forwarded = harness.take(out.ForwardQuoteRequest)
    assert sorted(m.to for m in forwarded) == ["SOLVER1", "SOLVER2"]
    assert {m.quote_req_id for m in forwarded} == {"rfq-1"}  # never the requester's own id
    with harness.uow() as uow:
        row = uow.session.get(RfqRow, 1)
        assert (row.state, row.client_req_id, row.quantity) == ("Quoting", "c1", Decimal(10))


@pytest.mark.parametrize(("command", "reason"), [
    (stubs.request_quote(symbol="ZZZZ"), RejectReason.UNKNOWN_SYMBOL),
    (stubs.request_quote(quantity=Decimal(0)), RejectReason.INVALID_QUANTITY),
    (stubs.request_quote(limit_price=Decimal("-1")), RejectReason.INVALID_PRICE),
    (stubs.request_quote(requester="SOLVER1"), RejectReason.NOT_AUTHORIZED),
])
def test_bad_requests_are_rejected_and_nothing_is_created(harness, command, reason):
    harness.engine.handle(command)
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.reason is reason and reject.client_req_id == "c1"
    assert harness.take(out.ForwardQuoteRequest) == []
    with harness.uow() as uow:
        assert uow.session.scalar(select(func.count(RfqRow.id))) == 0
        events = [e.event_type for e in uow.session.scalars(select(OutboxRow))]
        assert [e for e in events if not e.startswith("Session")] == ["RfqRejected"]


def test_duplicate_quote_req_id_is_rejected(harness):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.request_quote())
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.reason is RejectReason.DUPLICATE_ID


def test_requester_sees_each_new_best_quote_and_solvers_get_acks(harness):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.submit_quote(solver="SOLVER1", solver_quote_id="s1", offer_price=Decimal("228.00")))
    harness.engine.handle(stubs.submit_quote(solver="SOLVER2", solver_quote_id="s2", offer_price=Decimal("228.50")))
    harness.engine.handle(stubs.submit_quote(solver="SOLVER2", solver_quote_id="s3", offer_price=Decimal("227.90")))
    presented = harness.take(out.PresentQuote, to="REQ1")
    assert [(m.price, m.quote_id) for m in presented] == [(Decimal("228.00"), "q1-1"), (Decimal("227.90"), "q1-3")]
    acks = harness.take(out.QuoteStatusReport)
    assert [(a.to, a.quote_id, a.status) for a in acks] == [
        ("SOLVER1", "s1", out.QuoteAck.ACCEPTED), ("SOLVER2", "s2", out.QuoteAck.ACCEPTED),
        ("SOLVER2", "s3", out.QuoteAck.ACCEPTED)]


def test_quote_after_the_submission_window_is_rejected(harness):
    harness.engine.handle(stubs.request_quote())
    harness.clock.advance(60)
    harness.engine.handle(stubs.submit_quote())
    [ack] = harness.take(out.QuoteStatusReport)
    assert ack.status is out.QuoteAck.REJECTED and "window" in ack.text


def test_acceptance_locks_both_legs_and_tells_the_winner_and_the_losers(harness):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.submit_quote(solver="SOLVER1", solver_quote_id="s1", offer_price=Decimal("228.00")))
    harness.engine.handle(stubs.submit_quote(solver="SOLVER2", solver_quote_id="s2", offer_price=Decimal("228.50")))
    harness.engine.handle(stubs.accept_quote(quote_id="q1-1"))
    [won] = harness.take(out.NotifyQuoteAccepted)
    assert (won.to, won.quote_resp_id, won.solver_quote_id, won.price) == ("SOLVER1", "acc-1", "s1", Decimal("228.00"))
    [new] = harness.take(out.RequesterReport, to="REQ1")
    assert new.kind is out.ReportKind.NEW and new.cl_ord_id == "a1"
    [lost] = [m for m in harness.take(out.QuoteStatusReport) if m.status is out.QuoteAck.REMOVED]
    assert (lost.to, lost.quote_id) == ("SOLVER2", "s2")
    assert harness.balance("REQ1", "USDC").locked == Decimal("2280.00")
    assert harness.balance("REQ1", "USDC").available == Decimal("97720.00")
    assert harness.balance("SOLVER1", "AAPL").locked == Decimal(10)
    assert harness.invariants() == []


def test_full_fill_with_price_improvement_settles_to_the_cent(harness):
    harness.quoted_rfq()
    harness.engine.handle(stubs.accept_quote())
    harness.engine.handle(stubs.report_fill(last_price=Decimal("227.9433"), last_quantity=Decimal(10)))
    [fill] = harness.take(out.RequesterReport, to="REQ1")[1:]
    assert fill.kind is out.ReportKind.FILL and fill.cum_quantity == Decimal(10)
    assert fill.last_price == Decimal("227.9433") and fill.average_price == Decimal("227.9433")
    # 10 x 227.9433 = 2279.433 -> the requester pays 2279.43 (rounded in its favour); 0.57 released.
    assert harness.balance("REQ1", "USDC") == type(harness.balance("REQ1", "USDC"))(Decimal("97720.57"), Decimal(0))
    assert harness.balance("REQ1", "AAPL").available == Decimal(60)
    assert harness.balance("SOLVER1", "USDC").available == Decimal("102279.43")
    assert harness.balance("SOLVER1", "AAPL") .available == Decimal(990)
    assert harness.balance("SOLVER1", "AAPL").locked == Decimal(0)
    assert harness.invariants() == []
    with harness.uow() as uow:
        assert uow.session.get(RfqRow, 1).state == RfqState.FILLED.value


def test_partial_fill_settles_the_filled_quantity_and_releases_the_rest(harness):
    harness.quoted_rfq()
    harness.engine.handle(stubs.accept_quote())
    harness.engine.handle(stubs.report_fill(last_price=Decimal("228.00"), last_quantity=Decimal(4)))
    reports = harness.take(out.RequesterReport, to="REQ1")
    assert [r.kind for r in reports] == [out.ReportKind.NEW, out.ReportKind.FILL, out.ReportKind.REMAINDER_RELEASED]
    assert reports[1].cum_quantity == Decimal(4)
    assert harness.balance("REQ1", "USDC").available == Decimal("100000.00") - Decimal("912.00")
    assert harness.balance("REQ1", "USDC").locked == Decimal(0)
    assert harness.balance("SOLVER1", "AAPL").available == Decimal(996)
    assert harness.invariants() == []


def test_sell_with_price_improvement_pays_the_requester_more_than_the_solver_locked(harness):
    harness.quoted_rfq(side=Side.SELL)
    harness.engine.handle(stubs.accept_quote())
    assert harness.balance("REQ1", "AAPL").locked == Decimal(10)
    harness.engine.handle(stubs.report_fill(last_price=Decimal("227.105"), last_quantity=Decimal(10)))
    assert harness.balance("REQ1", "USDC").available == Decimal("102271.05")
    assert harness.balance("REQ1", "AAPL") .available == Decimal(40)
    assert harness.balance("SOLVER1", "USDC").available == Decimal("97728.95")
    assert harness.balance("SOLVER1", "USDC").locked == Decimal(0)
    assert harness.invariants() == []


@pytest.mark.parametrize(("fill", "text"), [
    (stubs.report_fill(last_price=Decimal("228.01")), "worse than quoted"),
    (stubs.report_fill(last_quantity=Decimal(11)), "exceeds"),
    (stubs.report_fill(solver="SOLVER2"), "winning solver"),
    (stubs.report_fill(quote_resp_id="acc-99"), "no accepted RFQ"),
])
def test_bad_fill_reports_are_rejected_and_change_nothing(harness, fill, text):
    harness.quoted_rfq()
    harness.engine.handle(stubs.accept_quote())
    before = (harness.balance("REQ1", "USDC"), harness.balance("SOLVER1", "AAPL"))
    harness.engine.handle(fill)
    [ack] = harness.take(out.ExecutionAck)
    assert ack.status is out.ExecutionAckStatus.REFUSED and ack.exec_id == fill.exec_id and text in ack.text
    assert (harness.balance("REQ1", "USDC"), harness.balance("SOLVER1", "AAPL")) == before
    with harness.uow() as uow:
        assert uow.session.get(RfqRow, 1).state == RfqState.ACCEPTED_BINDING.value
        assert uow.session.scalar(select(func.count(FillRow.id))) == 0


def test_second_fill_and_fill_before_acceptance_are_rejected(harness):
    harness.quoted_rfq()
    harness.engine.handle(stubs.report_fill())  # not accepted yet
    harness.engine.handle(stubs.accept_quote())
    harness.engine.handle(stubs.report_fill())
    harness.engine.handle(stubs.report_fill(exec_id="e2"))
    acks = harness.take(out.ExecutionAck)
    assert [ack.status for ack in acks] == [out.ExecutionAckStatus.REFUSED, out.ExecutionAckStatus.ACCEPTED,
                                            out.ExecutionAckStatus.REFUSED]
    assert "already Filled" in acks[2].text
    assert harness.balance("REQ1", "AAPL").available == Decimal(60)  # settled exactly once


def test_a_repeated_fill_report_is_acknowledged_again_and_settles_nothing(harness):
    """The solver retries after a reconnect (its acknowledgement lost): same ExecID, same answer."""
    harness.quoted_rfq()
    harness.engine.handle(stubs.accept_quote())
    harness.engine.handle(stubs.report_fill())
    harness.engine.handle(stubs.report_fill())
    first, second = harness.take(out.ExecutionAck)
    assert first.status is second.status is out.ExecutionAckStatus.ACCEPTED
    assert (second.exec_id, second.last_quantity) == (first.exec_id, first.last_quantity)
    assert "already settled" in second.text
    assert harness.balance("REQ1", "AAPL").available == Decimal(60)
    assert harness.invariants() == []


def test_accepting_unknown_or_foreign_quotes_is_rejected(harness):
    harness.quoted_rfq()
    harness.engine.handle(stubs.accept_quote(quote_id="nope"))
    harness.engine.handle(stubs.accept_quote(requester="REQ2"))
    rejects = harness.take(out.BusinessReject)
    assert [r.reason for r in rejects] == [RejectReason.UNKNOWN_ID, RejectReason.NOT_AUTHORIZED]
    assert harness.balance("REQ1", "USDC").locked == Decimal(0)


def test_acceptance_without_funds_is_rejected_and_locks_nothing(harness):
    harness.engine.handle(stubs.request_quote(quantity=Decimal(1000)))
    harness.engine.handle(stubs.submit_quote(offer_price=Decimal("228.00")))
    harness.engine.handle(stubs.accept_quote())
    [reject] = harness.take(out.BusinessReject)
    assert reject.reason is RejectReason.INSUFFICIENT_FUNDS
    assert harness.balance("REQ1", "USDC") .locked == Decimal(0)
    assert harness.engine.book.rfq(1).state is RfqState.QUOTING


def test_failed_execution_voids_the_holds(harness):
    harness.quoted_rfq()
    harness.engine.handle(stubs.accept_quote())
    harness.engine.handle(stubs.report_fill(outcome=ExecutionOutcome.FAILED, last_price=None, last_quantity=None,
                                            text="venue rejected"))
    reports = harness.take(out.RequesterReport, to="REQ1")
    assert reports[-1].kind is out.ReportKind.REJECTED
    assert harness.balance("REQ1", "USDC").available == Decimal("100000.00")
    assert harness.balance("SOLVER1", "AAPL").available == Decimal(1000)
    assert harness.invariants() == []


def test_unaccepted_rfq_expires_at_the_acceptance_deadline(harness):
    harness.quoted_rfq()
    harness.clock.advance(179)
    harness.engine.tick()
    assert harness.engine.book.rfq(1).state is RfqState.QUOTING
    harness.clock.advance(1)
    harness.engine.tick()
    statuses = harness.take(out.QuoteStatusReport)
    assert {(s.to, s.status) for s in statuses} >= {("REQ1", out.QuoteAck.EXPIRED), ("SOLVER1", out.QuoteAck.EXPIRED)}
    harness.engine.handle(stubs.accept_quote())
    [reject] = harness.take(out.BusinessReject)
    assert reject.reason is RejectReason.UNKNOWN_ID or "Expired" in reject.text
    assert harness.balance("REQ1", "USDC").locked == Decimal(0)


def test_the_book_reloads_open_rfqs_after_a_restart(harness):
    harness.quoted_rfq()
    with harness.uow() as uow:
        book = load_book(uow.session)
    assert book.rfq(1).state is RfqState.QUOTING
    assert [q.quote_id for q in book.quotes(1)] == ["q1-1"]
    assert book.allocate_rfq_id() == 2
