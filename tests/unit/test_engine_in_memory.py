"""The RFQ engine with in-memory adapters (tests/fakes.py): decisions, ledger intents, rollback
and replies, without a database. The SQL adapters have their own tests on SQLite and PostgreSQL."""
from __future__ import annotations

from decimal import Decimal

import pytest

from core.clock import FakeClock
from core.refusal import RejectReason
from core.types import SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.book import RfqBook
from gateway.domain.commands import SessionStatusChanged
from gateway.domain.rfq import RfqState
from gateway.engine import RfqEngine
from tests import stubs
from tests.fakes import FakeGatewayStore, FakeLedger, FakeUnitOfWork

D = Decimal


class Rig:
    def __init__(self, requester_usdc: str = "100000", solver_shares: str = "1000") -> None:
        self.ledger = FakeLedger()
        self.ledger.deposit("REQ1", "USDC", D(requester_usdc))
        self.ledger.deposit("SOLVER1", "AAPL", D(solver_shares))
        self.ledger.deposit("SOLVER1", "USDC", D("100000"))
        self.store = FakeGatewayStore()
        self.unit = FakeUnitOfWork(self.ledger, self.store)
        self.sent: list[object] = []
        self.clock = FakeClock(stubs.T0)
        self.engine = RfqEngine(stubs.policy(), RfqBook(), lambda: self.unit, self.clock, self.sent.append,
                                poll_operator_commands=False)
        for session in ("REQ1", "SOLVER1"):
            self.engine.handle(SessionStatusChanged(SessionName(session), logged_on=True))

    def take(self, kind: type) -> list:
        found = [m for m in self.sent if isinstance(m, kind)]
        self.sent[:] = [m for m in self.sent if not isinstance(m, kind)]
        return found

    def quoted(self, offer: str = "228.00", quantity: Decimal = D(10)) -> out.PresentQuote:
        self.engine.handle(stubs.request_quote(quantity=quantity))
        self.engine.handle(stubs.submit_quote(offer_price=D(offer)))
        return self.take(out.PresentQuote)[-1]


@pytest.fixture
def rig() -> Rig:
    return Rig()


def test_a_buy_locks_on_acceptance_and_settles_on_the_fill(rig):
    shown = rig.quoted()
    rig.engine.handle(stubs.accept_quote(quote_id=shown.quote_id))
    assert (rig.ledger.available("REQ1", "USDC"), rig.ledger.locked("REQ1", "USDC")) == (D("97720.00"), D("2280.00"))
    assert rig.ledger.locked("SOLVER1", "AAPL") == D(10)
    rig.engine.handle(stubs.report_fill(last_price=D("227.90")))  # price improvement passed through
    assert rig.engine.book.rfq(1).state is RfqState.FILLED
    assert (rig.ledger.available("REQ1", "USDC"), rig.ledger.locked("REQ1", "USDC")) == (D("97721.00"), D(0))
    assert rig.ledger.available("REQ1", "AAPL") == D(10)
    assert rig.ledger.available("SOLVER1", "USDC") == D("102279.00")
    [fill] = [m for m in rig.take(out.RequesterReport) if m.kind is out.ReportKind.FILL]
    assert (fill.last_price, fill.last_quantity) == (D("227.90"), D(10))


def test_a_short_requester_is_refused_and_nothing_is_kept():
    rig = Rig(requester_usdc="100")
    shown = rig.quoted()
    saved_before = len(rig.store.saved)
    rig.engine.handle(stubs.accept_quote(quote_id=shown.quote_id))
    [reject] = rig.take(out.BusinessReject)
    assert reject.reason is RejectReason.INSUFFICIENT_FUNDS and "insufficient USDC" in reject.text
    assert len(rig.store.saved) == saved_before  # its savepoint rolled back: nothing of it was kept
    assert (rig.ledger.available("REQ1", "USDC"), rig.ledger.locked("REQ1", "USDC")) == (D(100), D(0))
    assert rig.ledger.locked("SOLVER1", "AAPL") == D(0)
    assert rig.engine.book.rfq(1).state is RfqState.QUOTING


def test_a_failed_execution_voids_both_holds(rig):
    shown = rig.quoted()
    rig.engine.handle(stubs.accept_quote(quote_id=shown.quote_id))
    rig.engine.handle(stubs.report_fill(outcome=stubs.ExecutionOutcome.FAILED, last_price=None, last_quantity=None,
                                        text="venue closed"))
    assert rig.engine.book.rfq(1).state is RfqState.REJECTED
    assert rig.ledger.locked("REQ1", "USDC") == 0 and rig.ledger.available("REQ1", "USDC") == D(100000)
    assert rig.ledger.locked("SOLVER1", "AAPL") == 0


def test_a_selling_requesters_improvement_beyond_the_hold_is_paid_from_available():
    rig = Rig()
    rig.ledger.deposit("REQ1", "AAPL", D(10))
    rig.engine.handle(stubs.request_quote(side=Side.SELL, quantity=D(10)))
    rig.engine.handle(stubs.submit_quote(bid_price=D("227.00")))
    shown = rig.take(out.PresentQuote)[-1]
    rig.engine.handle(stubs.accept_quote(quote_id=shown.quote_id))
    rig.engine.handle(stubs.report_fill(last_price=D("227.10")))
    assert rig.ledger.available("REQ1", "USDC") == D("102271.00")
    assert rig.ledger.available("SOLVER1", "USDC") == D("97729.00")
