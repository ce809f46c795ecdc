"""In-memory adapters of the gateway's ports (gateway/ports.py): the engine runs without a database.

FakeLedger keeps the real ledger's rules that the engine relies on: available/locked per
(owner, asset), pending holds posted or voided once, InsufficientFunds, idempotency by key.
FakeUnitOfWork snapshots everything on entry and restores it unless committed, like a
transaction. The SQL adapters keep their own tests on SQLite and PostgreSQL.
"""
from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from types import TracebackType

from core.events import DomainEvent
from core.types import RfqId, SessionName
from gateway.access.operator import OperatorCommand
from gateway.domain.book import Changeset, RfqBook, SettledFill
from gateway.domain.outbound import Outbound
from gateway.domain.progress import SessionProgress
from gateway.domain.rfq import Rfq
from ledger.errors import HoldNotFound, InsufficientFunds


@dataclass
class _Hold:
    owner: str
    asset: str
    amount: Decimal
    status: str = "pending"


@dataclass
class FakeLedger:
    available_by: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    locked_by: dict[tuple[str, str], Decimal] = field(default_factory=dict)
    holds: dict[str, _Hold] = field(default_factory=dict)
    keys: set[str] = field(default_factory=set)

    def deposit(self, owner: str, asset: str, amount: Decimal) -> None:
        self.available_by[(owner, asset)] = self.available(owner, asset) + amount

    def available(self, owner: str, asset: str) -> Decimal:
        return self.available_by.get((owner, asset), Decimal(0))

    def locked(self, owner: str, asset: str) -> Decimal:
        return self.locked_by.get((owner, asset), Decimal(0))

    def lock(self, hold_id: str, owner: str, asset: str, amount: Decimal, idempotency_key: str,
             rfq_id: int | None = None, expires_at: datetime | None = None) -> object:
        if self._replayed(idempotency_key):
            return self.holds[hold_id]
        if self.available(owner, asset) < amount:
            raise InsufficientFunds(owner, asset, self.available(owner, asset), amount)
        self._move(owner, asset, -amount, +amount)
        self.holds[hold_id] = _Hold(owner, asset, amount)
        return self.holds[hold_id]

    def post(self, hold_id: str, amount: Decimal, beneficiary_owner: str, idempotency_key: str) -> object:
        hold = self._pending(hold_id, idempotency_key)
        if hold is not None:
            self._move(hold.owner, hold.asset, hold.amount - amount, -hold.amount)
            self.deposit(beneficiary_owner, hold.asset, amount)
            hold.status = "posted"
        return self.holds[hold_id]

    def void(self, hold_id: str, idempotency_key: str) -> object:
        hold = self._pending(hold_id, idempotency_key)
        if hold is not None:
            self._move(hold.owner, hold.asset, hold.amount, -hold.amount)
            hold.status = "voided"
        return self.holds[hold_id]

    def transfer(self, from_owner: str, to_owner: str, asset: str, amount: Decimal, idempotency_key: str,
                 description: str) -> int:
        if not self._replayed(idempotency_key):
            if self.available(from_owner, asset) < amount:
                raise InsufficientFunds(from_owner, asset, self.available(from_owner, asset), amount)
            self._move(from_owner, asset, -amount, Decimal(0))
            self.deposit(to_owner, asset, amount)
        return 0

    def _pending(self, hold_id: str, idempotency_key: str) -> _Hold | None:
        if hold_id not in self.holds:
            raise HoldNotFound(hold_id)
        hold = self.holds[hold_id]
        if self._replayed(idempotency_key) or hold.status != "pending":
            return None
        return hold

    def _replayed(self, key: str) -> bool:
        if key in self.keys:
            return True
        self.keys.add(key)
        return False

    def _move(self, owner: str, asset: str, available_delta: Decimal, locked_delta: Decimal) -> None:
        self.available_by[(owner, asset)] = self.available(owner, asset) + available_delta
        self.locked_by[(owner, asset)] = self.locked(owner, asset) + locked_delta
        assert self.available_by[(owner, asset)] >= 0 and self.locked_by[(owner, asset)] >= 0


@dataclass
class FakeGatewayStore:
    rfqs: dict[int, Rfq] = field(default_factory=dict)
    saved: list[Changeset] = field(default_factory=list)
    events: list[DomainEvent] = field(default_factory=list)
    operator_commands: list[OperatorCommand] = field(default_factory=list)
    progress: dict[SessionName, SessionProgress] = field(default_factory=dict)
    fills: dict[tuple[int, str], SettledFill] = field(default_factory=dict)
    quotes: set[tuple[SessionName, str, int]] = field(default_factory=set)
    outbox: dict[int, Outbound] = field(default_factory=dict)
    outbox_next_id: int = 0

    def save(self, changes: Changeset) -> None:
        self.saved.append(changes)
        self.rfqs.update({rfq.rfq_id: rfq for rfq in changes.rfqs})
        self.events.extend(changes.events)
        self.quotes.update((quote.solver, quote.solver_quote_id, quote.rfq_id) for quote in changes.quotes)
        for fill in changes.fills:
            rfq = self.rfqs[fill.rfq_id]
            solver = next(q.solver for c in self.saved for q in c.quotes if q.quote_id == fill.quote_id)
            self.fills[(fill.rfq_id, fill.exec_id)] = SettledFill(solver, rfq.symbol, fill.last_price,
                                                                  fill.last_quantity)

    def settled_fill(self, rfq_id: RfqId, exec_id: str) -> SettledFill | None:
        return self.fills.get((rfq_id, exec_id))

    def rfq_by_acceptance(self, requester: SessionName, client_resp_id: str) -> Rfq | None:
        return next((rfq for rfq in self.rfqs.values()
                     if rfq.requester == requester and rfq.client_resp_id == client_resp_id), None)

    def quote_received(self, solver: SessionName, solver_quote_id: str, rfq_id: RfqId) -> bool:
        return (solver, solver_quote_id, rfq_id) in self.quotes

    def stage_outbound(self, messages: list[Outbound], at: datetime) -> int:
        for message in messages:
            self.outbox_next_id += 1
            self.outbox[self.outbox_next_id] = message
        return self.outbox_next_id if messages else 0

    def mark_outbound_delivered(self, through_id: int, keep_mark: bool = False) -> None:
        self.outbox = {key: message for key, message in self.outbox.items() if key > through_id}

    def undelivered_outbound(self) -> list[tuple[int, Outbound]]:
        return sorted(self.outbox.items())

    def load_progress(self) -> dict[SessionName, SessionProgress]:
        return dict(self.progress)

    def save_progress(self, session: SessionName, progress: SessionProgress, at: datetime) -> None:
        self.progress[session] = progress

    def record_event(self, event: DomainEvent) -> None:
        self.events.append(event)

    def find_rfq_by_client_id(self, requester: SessionName, client_req_id: str) -> Rfq | None:
        return next((rfq for rfq in self.rfqs.values()
                     if rfq.requester == requester and rfq.client_req_id == client_req_id), None)

    def client_id_taken(self, requester: SessionName, client_req_id: str) -> bool:
        return self.find_rfq_by_client_id(requester, client_req_id) is not None

    def load_book(self) -> RfqBook:
        book = RfqBook(next_rfq_id=max(self.rfqs, default=0) + 1)
        book.apply(Changeset(rfqs=[rfq for rfq in self.rfqs.values() if not rfq.is_terminal]))
        return book

    def pending_operator_commands(self, limit: int) -> list[OperatorCommand]:
        return [command for command in self.operator_commands if command.applied_at is None][:limit]

    def mark_operator_command_applied(self, command_id: int, at: datetime, result: str) -> None:
        self.operator_commands = [
            replace(c, applied_at=at, result=result) if c.id == command_id else c
            for c in self.operator_commands]


class FakeUnitOfWork:
    """A transaction over a FakeLedger and a FakeGatewayStore: rolled back unless committed."""

    def __init__(self, ledger: FakeLedger, store: FakeGatewayStore) -> None:
        self.ledger = ledger
        self.store = store
        self._snapshot: tuple[FakeLedger, FakeGatewayStore] | None = None
        self.commits = 0

    def __enter__(self) -> FakeUnitOfWork:
        self._snapshot = (copy.deepcopy(self.ledger), copy.deepcopy(self.store))
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        if self._snapshot is not None:  # not committed: restore what was there before
            ledger, store = self._snapshot
            self.ledger.__dict__.update(ledger.__dict__)
            self.store.__dict__.update(store.__dict__)
        self._snapshot = None

    @contextmanager
    def savepoint(self, virtual: bool = False) -> Iterator[None]:  # in memory: always undone alone
        ledger, store = copy.deepcopy(self.ledger), copy.deepcopy(self.store)
        try:
            yield
        except BaseException:
            self.ledger.__dict__.update(ledger.__dict__)
            self.store.__dict__.update(store.__dict__)
            raise

    def commit(self) -> None:
        self._snapshot = None
        self.commits += 1
