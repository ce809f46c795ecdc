"""A command of a batch is undone without a SQL savepoint while its postings are only staged
(gateway/repository.py SqlGatewayUnitOfWork.savepoint, ledger/pending.py); once something of it
has reached the database, the batch is decided again command by command, with SQL savepoints."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import event, func, select, text

from core.clock import FakeClock
from core.refusal import RejectReason
from gateway import recorder
from gateway.domain import outbound as out
from gateway.domain.errors import DomainRejection
from gateway.domain.ledger_intents import LockFunds
from ledger.models import Hold
from tests import stubs
from tests.unit.test_engine import Harness

USDC_LOCKED_FOR_TEN_AT_228 = Decimal("2280.00")


@pytest.fixture
def harness(sessions):
    return Harness(sessions, FakeClock(stubs.T0))


@pytest.fixture
def savepoints(sessions) -> list[str]:
    """Every SAVEPOINT statement the engine's database sees."""
    seen: list[str] = []
    engine = sessions.kw["bind"]

    def count(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("SAVEPOINT"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def _two_quoted_rfqs(harness) -> tuple[str, str]:
    quote_ids = []
    for client_req_id, rfq_ref, solver_quote_id in (("c1", "rfq-1", "s1"), ("c2", "rfq-2", "s2")):
        harness.engine.handle(stubs.request_quote(client_req_id=client_req_id))
        harness.engine.handle(stubs.submit_quote(quote_req_id=rfq_ref, solver_quote_id=solver_quote_id))
        quote_ids.append(harness.take(out.PresentQuote, to="REQ1")[-1].quote_id)
    harness.sent.clear()
    return quote_ids[0], quote_ids[1]


def _refuse_rfq_after_its_postings(monkeypatch, rfq_id: int, write_first: bool) -> None:
    """The ledger intents of `rfq_id` are carried out (staged), then refused; `write_first`: after
    writing something to the database, which only a SQL rollback can undo."""
    real = recorder.execute_intents

    def execute(ledger, intents) -> None:
        real(ledger, intents)
        if any(isinstance(intent, LockFunds) and intent.rfq_id == rfq_id for intent in intents):
            if write_first:
                ledger.session.execute(text("UPDATE ledger_accounts SET owner = owner WHERE id = -1"))
            raise DomainRejection(RejectReason.INSUFFICIENT_FUNDS, "refused after its postings")

    monkeypatch.setattr(recorder, "execute_intents", execute)


def _holds(harness) -> int:
    with harness.uow() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(Hold)) or 0)


@pytest.mark.parametrize("write_first", [False, True], ids=["staged only", "written"])
def test_a_refused_command_of_a_batch_is_undone_alone(harness, savepoints, monkeypatch, write_first):
    first, second = _two_quoted_rfqs(harness)
    _refuse_rfq_after_its_postings(monkeypatch, rfq_id=2, write_first=write_first)
    savepoints.clear()
    harness.engine.handle_batch([stubs.accept_quote(client_resp_id="a1", quote_id=first),
                                 stubs.accept_quote(client_resp_id="a2", quote_id=second)])
    [refusal] = harness.take(out.BusinessReject)
    assert refusal.ref_id == "a2" and refusal.reason is RejectReason.INSUFFICIENT_FUNDS
    assert [m.quote_resp_id for m in harness.take(out.NotifyQuoteAccepted, to="SOLVER1")] == ["acc-1"]
    assert harness.balance("REQ1", "USDC").locked == USDC_LOCKED_FOR_TEN_AT_228
    assert _holds(harness) == 2  # the accepted RFQ's two legs; none of the refused one's
    assert harness.invariants() == []
    if write_first:
        assert savepoints, "the batch was decided again command by command, with SQL savepoints"
    else:
        assert savepoints == [], "undone without a SQL savepoint"
