"""What the RFQ engine needs from the outside, as typed ports.

The engine decides in memory and records through one unit of work per step: the ledger
(executing the decision's ledger intents), the gateway's own store (RFQs, quotes, fills,
outbox events, operator commands), one commit. The SQL adapter is gateway/repository.py;
tests/fakes.py has in-memory ones so the engine runs in unit tests without a database.
"""
from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Protocol

from core.events import DomainEvent
from core.types import RfqId, SessionName
from gateway.access.operator import OperatorCommand
from gateway.domain.book import Changeset, RfqBook, SettledFill
from gateway.domain.ledger_intents import BalanceReader
from gateway.domain.outbound import Outbound
from gateway.domain.progress import SessionProgress
from gateway.domain.rfq import Rfq


class LedgerPort(BalanceReader, Protocol):
    """The ledger commands the engine executes (ledger.ledger.Ledger implements them).

    Each raises ledger.errors.InsufficientFunds when the funds are not there; each is
    idempotent by its key (a retried command returns its first result and writes nothing)."""

    def lock(self, hold_id: str, owner: str, asset: str, amount: Decimal, idempotency_key: str,
             rfq_id: int | None = None, expires_at: datetime | None = None) -> object: ...

    def post(self, hold_id: str, amount: Decimal, beneficiary_owner: str, idempotency_key: str) -> object: ...

    def void(self, hold_id: str, idempotency_key: str) -> object: ...

    def transfer(self, from_owner: str, to_owner: str, asset: str, amount: Decimal, idempotency_key: str,
                 description: str) -> int: ...


class GatewayStore(Protocol):
    """The gateway's own records, written in the unit of work's transaction."""

    def save(self, changes: Changeset) -> None: ...

    def record_event(self, event: DomainEvent) -> None: ...

    def find_rfq_by_client_id(self, requester: SessionName, client_req_id: str) -> Rfq | None: ...

    def client_id_taken(self, requester: SessionName, client_req_id: str) -> bool: ...

    def load_book(self) -> RfqBook: ...

    def pending_operator_commands(self, limit: int) -> list[OperatorCommand]: ...

    def mark_operator_command_applied(self, command_id: int, at: datetime, result: str) -> None: ...

    def settled_fill(self, rfq_id: RfqId, exec_id: str) -> SettledFill | None: ...

    def rfq_by_acceptance(self, requester: SessionName, client_resp_id: str) -> Rfq | None: ...

    def quote_received(self, solver: SessionName, solver_quote_id: str, rfq_id: RfqId) -> bool: ...

    def load_progress(self) -> dict[SessionName, SessionProgress]: ...

    def stage_outbound(self, messages: list[Outbound], at: datetime) -> int:
        """The FIX outbox: messages written with the decision; returns the last id (0: none)."""
        ...

    def mark_outbound_delivered(self, through_id: int, keep_mark: bool = False) -> None: ...

    def undelivered_outbound(self) -> list[tuple[int, Outbound]]: ...

    def save_progress(self, session: SessionName, progress: SessionProgress, at: datetime) -> None: ...


class GatewayUnitOfWork(Protocol):
    """`with uow: ...; uow.commit()` -- leaving the block without commit rolls everything back."""

    @property
    def ledger(self) -> LedgerPort: ...

    @property
    def store(self) -> GatewayStore: ...

    def __enter__(self) -> GatewayUnitOfWork: ...

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None: ...

    def savepoint(self, virtual: bool = False) -> AbstractContextManager[None]:
        """Inside a unit of work: a block whose writes roll back alone when it raises. `virtual`:
        without a SQL savepoint when its writes are still staged; should any have reached the
        database, the unit of work can no longer commit (the caller decides again, alone)."""
        ...

    def commit(self) -> None: ...
