"""The engine's in-memory state: live RFQs and their quotes.

Handlers read it and return a Changeset; the engine applies the changeset only
after the database transaction that records it has committed, so a rollback
leaves memory and database in agreement.
"""
from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from core.events import DomainEvent
from core.types import QuoteId, RfqId, SessionName
from gateway.domain.deadlines import DeadlineQueue
from gateway.domain.ledger_intents import LedgerIntent
from gateway.domain.outbound import Outbound
from gateway.domain.quotes import Quote, QuoteStatus, best_quote
from gateway.domain.rfq import TERMINAL_STATES, Rfq, RfqState


@dataclass(frozen=True)
class FillRecord:
    rfq_id: RfqId
    quote_id: QuoteId
    exec_id: str
    last_price: object
    last_quantity: object
    occurred_at: datetime
    nbbo_bid: object = None
    nbbo_offer: object = None


@dataclass(frozen=True)
class SettledFill:
    """A fill the ledger already settled, as found in SQL by its RFQ and ExecID."""

    solver: str
    symbol: str
    last_price: Decimal
    last_quantity: Decimal


@dataclass
class Changeset:
    rfqs: list[Rfq] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    fills: list[FillRecord] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)
    outbound: list[Outbound] = field(default_factory=list)
    presented: dict[RfqId, QuoteId | None] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # operator-facing summaries, logged after commit
    disabled_solvers: dict[SessionName, bool] = field(default_factory=dict)  # solver -> disabled (operator)
    ledger: list[LedgerIntent] = field(default_factory=list)  # executed by the engine, in order, before saving

    def merge(self, other: "Changeset") -> "Changeset":
        """Fold a later decision of the same transaction into this one (its rows win)."""
        self.rfqs.extend(other.rfqs)
        self.quotes.extend(other.quotes)
        self.fills.extend(other.fills)
        self.events.extend(other.events)
        self.outbound.extend(other.outbound)
        self.presented.update(other.presented)
        self.notes.extend(other.notes)
        self.disabled_solvers.update(other.disabled_solvers)
        self.ledger.extend(other.ledger)
        return self

    @property
    def is_empty(self) -> bool:
        return not (self.rfqs or self.quotes or self.fills or self.events or self.outbound or self.presented
                    or self.disabled_solvers or self.ledger)


STALE_TIMER_ENTRIES_ALLOWED = 1_024  # compaction is O(queue): run it only when it pays


class RfqBook:
    def __init__(self, next_rfq_id: int = 1, next_quote_sequence: int = 1) -> None:
        assert next_rfq_id >= 1 and next_quote_sequence >= 1
        self._rfqs: dict[RfqId, Rfq] = {}
        self._quotes: dict[RfqId, dict[QuoteId, Quote]] = {}
        self._quote_index: dict[QuoteId, RfqId] = {}
        self._client_ids: dict[tuple[SessionName, str], RfqId] = {}
        self._presented: dict[RfqId, QuoteId | None] = {}  # best quote last shown to the requester
        self._open_by_requester: Counter[SessionName] = Counter()  # RFQs not yet terminal, per requester
        self._by_state: dict[RfqState, dict[RfqId, Rfq]] = {}  # open RFQs only: timers read a state, not all
        self._terminal: deque[RfqId] = deque()  # in the order they ended: the oldest leave memory first
        # The timers' queues (gateway/engine_timers.py): quoting deadlines, acceptances waiting for a
        # fill report (by acceptance time), and shown quotes by ValidUntilTime.
        self.quoting_deadlines: DeadlineQueue[RfqId] = DeadlineQueue()
        self.accepted_at: DeadlineQueue[RfqId] = DeadlineQueue()
        self.shown_until: DeadlineQueue[RfqId] = DeadlineQueue()
        self._next_rfq_id = next_rfq_id
        self._next_quote_sequence = next_quote_sequence
        self.logged_on: set[SessionName] = set()
        self.disabled_solvers: set[SessionName] = set()  # by the operator: not sent RFQs, quotes refused

    # -- identifiers -------------------------------------------------------------
    def allocate_rfq_id(self) -> RfqId:
        rfq_id = RfqId(self._next_rfq_id)
        self._next_rfq_id += 1
        return rfq_id

    def allocate_quote_sequence(self) -> int:
        sequence = self._next_quote_sequence
        self._next_quote_sequence += 1
        return sequence

    # -- reads -------------------------------------------------------------------
    def rfq(self, rfq_id: RfqId) -> Rfq | None:
        return self._rfqs.get(rfq_id)

    def rfq_by_client_id(self, requester: SessionName, client_req_id: str) -> Rfq | None:
        rfq_id = self._client_ids.get((requester, client_req_id))
        return None if rfq_id is None else self._rfqs.get(rfq_id)

    def quotes(self, rfq_id: RfqId) -> list[Quote]:
        return list(self._quotes.get(rfq_id, {}).values())

    def quote(self, quote_id: QuoteId) -> Quote | None:
        rfq_id = self._quote_index.get(quote_id)
        return None if rfq_id is None else self._quotes[rfq_id].get(quote_id)

    def live_quote_of(self, rfq_id: RfqId, solver: SessionName) -> Quote | None:
        for quote in self._quotes.get(rfq_id, {}).values():
            if quote.solver == solver and quote.status is QuoteStatus.LIVE:
                return quote
        return None

    def best(self, rfq_id: RfqId, now: datetime) -> Quote | None:
        rfq = self._rfqs[rfq_id]
        return best_quote(rfq, self.quotes(rfq_id), now)

    def open_rfq_count(self, requester: SessionName) -> int:
        return self._open_by_requester[requester]

    def presented(self, rfq_id: RfqId) -> QuoteId | None:
        return self._presented.get(rfq_id)

    def open_rfqs(self) -> list[Rfq]:
        return [rfq for by_id in self._by_state.values() for rfq in by_id.values()]

    def rfqs_in(self, state: RfqState) -> list[Rfq]:
        if state in TERMINAL_STATES:
            return [rfq for rfq in self._rfqs.values() if rfq.state is state]
        return list(self._by_state.get(state, {}).values())

    def all_rfqs(self) -> list[Rfq]:
        return sorted(self._rfqs.values(), key=lambda rfq: rfq.rfq_id)

    # -- writes (only after commit) ----------------------------------------------
    def apply(self, changes: Changeset) -> None:
        for rfq in changes.rfqs:
            previous = self._rfqs.get(rfq.rfq_id)
            was_open = previous is not None and not previous.is_terminal
            if was_open != (not rfq.is_terminal):
                self._open_by_requester[rfq.requester] += -1 if was_open else 1
                if self._open_by_requester[rfq.requester] <= 0:
                    del self._open_by_requester[rfq.requester]
            self._rfqs[rfq.rfq_id] = rfq
            self._client_ids[(rfq.requester, rfq.client_req_id)] = rfq.rfq_id
            self._quotes.setdefault(rfq.rfq_id, {})
            self._index(previous, rfq)
        for quote in changes.quotes:
            assert quote.rfq_id in self._rfqs, "a quote belongs to a known RFQ"
            self._quotes[quote.rfq_id][quote.quote_id] = quote
            self._quote_index[quote.quote_id] = quote.rfq_id
        self._presented.update(changes.presented)
        for rfq_id, quote_id in changes.presented.items():
            shown = self.quote(quote_id) if quote_id is not None else None
            if shown is not None and shown.valid_until is not None:
                self.shown_until.push(shown.valid_until, rfq_id)
        for solver, disabled in changes.disabled_solvers.items():
            if disabled:
                self.disabled_solvers.add(solver)
            else:
                self.disabled_solvers.discard(solver)

    def _index(self, previous: Rfq | None, rfq: Rfq) -> None:
        """Keep the per-state index, the order of endings and the timers' queues (O(1) per change)."""
        if previous is not None and previous.state is not rfq.state:
            self._by_state.get(previous.state, {}).pop(rfq.rfq_id, None)
        if rfq.is_terminal:
            if previous is None or not previous.is_terminal:
                self._terminal.append(rfq.rfq_id)
            return
        self._by_state.setdefault(rfq.state, {})[rfq.rfq_id] = rfq
        before = previous if previous is not None and previous.state is rfq.state else None
        if rfq.state is RfqState.QUOTING and (before is None or before.quoting_deadline != rfq.quoting_deadline):
            self.quoting_deadlines.push(rfq.quoting_deadline, rfq.rfq_id)
        elif rfq.state is RfqState.ACCEPTED_BINDING and (before is None or before.updated_at != rfq.updated_at):
            self.accepted_at.push(rfq.updated_at or rfq.created_at, rfq.rfq_id)
        self._compact_deadlines()

    def _compact_deadlines(self) -> None:
        """Stale timer entries (RFQs accepted before their quoting deadline, settled before their
        timeout) leave once they outnumber the open RFQs: memory follows what is open."""
        bound = 2 * sum(len(by_id) for by_id in self._by_state.values()) + STALE_TIMER_ENTRIES_ALLOWED
        if len(self.quoting_deadlines) > bound:
            self.quoting_deadlines.compact(lambda at, rfq_id: self._still(rfq_id, RfqState.QUOTING, at))
        if len(self.accepted_at) > bound:
            self.accepted_at.compact(lambda at, rfq_id: self._still(rfq_id, RfqState.ACCEPTED_BINDING, at))
        if len(self.shown_until) > bound:
            self.shown_until.compact(lambda at, rfq_id: self._still(rfq_id, RfqState.QUOTING, None))

    def _still(self, rfq_id: RfqId, state: RfqState, at: datetime | None) -> bool:
        rfq = self._by_state.get(state, {}).get(rfq_id)
        if rfq is None:
            return False
        if at is None:
            return True
        deadline = rfq.quoting_deadline if state is RfqState.QUOTING else (rfq.updated_at or rfq.created_at)
        return deadline == at

    def forget_terminal(self, keep_last: int) -> None:
        """Bound memory: terminal RFQs live on in SQL; keep only the most recent in memory (O(1)
        per RFQ forgotten: the oldest endings leave first)."""
        while len(self._terminal) > keep_last:
            rfq_id = self._terminal.popleft()
            rfq = self._rfqs.pop(rfq_id, None)
            if rfq is None:
                continue
            self._client_ids.pop((rfq.requester, rfq.client_req_id), None)
            for quote_id in self._quotes.pop(rfq_id, {}):
                self._quote_index.pop(quote_id, None)
            self._presented.pop(rfq_id, None)
