"""The engine's timers pop deadlines from the book's queues: due RFQs only, earliest first, stale
entries (RFQs that moved on) dropped, terminal RFQs forgotten oldest first."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from core.types import RfqId
from gateway.domain import book as book_module
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.rfq import RfqState
from gateway.handlers.expiry import due_for_expiry, due_for_settlement_timeout
from tests import stubs

T0 = stubs.T0


def _book(*rfqs) -> RfqBook:
    book = RfqBook()
    book.apply(Changeset(rfqs=list(rfqs)))
    return book


def test_only_rfqs_past_their_quoting_deadline_are_due_earliest_first() -> None:
    early = stubs.rfq(rfq_id=RfqId(1), client_req_id="a", submission_deadline=T0 + timedelta(seconds=40),
                      acceptance_deadline=T0 + timedelta(seconds=100))
    late = stubs.rfq(rfq_id=RfqId(2), client_req_id="b", submission_deadline=T0 + timedelta(seconds=40),
                     acceptance_deadline=T0 + timedelta(seconds=50))
    book = _book(early, late)
    assert due_for_expiry(book, T0 + timedelta(seconds=49)) == []
    assert [r.rfq_id for r in due_for_expiry(book, T0 + timedelta(seconds=200))] == [2, 1]
    assert due_for_expiry(book, T0 + timedelta(seconds=300)) == []  # each deadline fires once


def test_an_rfq_accepted_before_its_deadline_does_not_expire_but_times_out_after_acceptance() -> None:
    quoting = stubs.rfq(acceptance_deadline=T0 + timedelta(seconds=100))
    book = _book(quoting)
    accepted_at = T0 + timedelta(seconds=10)
    book.apply(Changeset(rfqs=[replace(quoting, state=RfqState.ACCEPTED_BINDING, updated_at=accepted_at)]))
    assert due_for_expiry(book, T0 + timedelta(seconds=500)) == []  # the quoting entry is stale
    timeout = timedelta(seconds=300)
    assert due_for_settlement_timeout(book, accepted_at + timeout - timedelta(seconds=1), timeout) == []
    assert [r.rfq_id for r in due_for_settlement_timeout(book, accepted_at + timeout, timeout)] == [1]


def test_terminal_rfqs_leave_memory_oldest_ending_first() -> None:
    rfqs = [stubs.rfq(rfq_id=RfqId(n), client_req_id=f"c{n}") for n in (1, 2, 3)]
    book = _book(*rfqs)
    for n in (3, 1, 2):  # they end in this order
        book.apply(Changeset(rfqs=[replace(rfqs[n - 1], state=RfqState.EXPIRED)]))
    book.forget_terminal(keep_last=1)
    assert [book.rfq(RfqId(n)) is not None for n in (1, 2, 3)] == [False, True, False]
    assert book.open_rfqs() == [] and book.rfqs_in(RfqState.QUOTING) == []


def test_timer_entries_of_rfqs_that_moved_on_are_compacted_away(monkeypatch) -> None:
    monkeypatch.setattr(book_module, "STALE_TIMER_ENTRIES_ALLOWED", 4)
    book = RfqBook()
    for n in range(1, 21):
        quoting = stubs.rfq(rfq_id=RfqId(n), client_req_id=f"c{n}")
        book.apply(Changeset(rfqs=[quoting]))
        book.apply(Changeset(rfqs=[replace(quoting, state=RfqState.EXPIRED)]))
    assert len(book.quoting_deadlines) <= 5  # nothing open: at most the allowance of stale entries stays
    live = stubs.rfq(rfq_id=RfqId(99), client_req_id="live", acceptance_deadline=T0 + timedelta(seconds=100))
    book.apply(Changeset(rfqs=[live]))
    assert [r.rfq_id for r in due_for_expiry(book, T0 + timedelta(seconds=100))] == [99]
