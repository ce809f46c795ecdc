"""The gateway's SQL adapter: maps the engine's domain values to rows and back, and the unit of
work the engine records each step in (gateway.ports.GatewayUnitOfWork)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Clock
from core.events import DomainEvent
from core.types import QuoteId, RfqId, SessionName, Side
from db.upsert import table_of, upsert
from gateway import outbox_codec
from gateway.access.operator import OperatorCommand, OperatorQueue
from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook, SettledFill
from gateway.domain.progress import SessionProgress
from gateway.domain.quotes import Quote, QuoteStatus
from gateway.domain.rfq import TERMINAL_STATES, ExecutionMode, Rfq, RfqOrigin, RfqState
from gateway.models import FillRow, FixOutboxRow, FixOutboxStateRow, QuoteRow, RfqRow, SessionProgressRow
from ledger.ledger import Ledger
from ledger.pending import reads_no_ledger_rows
from ledger.uow import SqlUnitOfWork

DELETE_DELIVERED = delete(FixOutboxRow).where(FixOutboxRow.id <= bindparam("through_id"))
CLIENT_ID_TAKEN = (select(RfqRow.id).where(RfqRow.requester_session == bindparam("requester"),
                                           RfqRow.client_req_id == bindparam("client_req_id")).limit(1))
reads_no_ledger_rows(CLIENT_ID_TAKEN)  # asked mid-batch for every new RFQ: the ledger's staged rows can wait


class SqlGatewayStore:
    """gateway.ports.GatewayStore on the unit of work's SQL session (nothing here commits).

    `save` stages a decision's rows; they are written together by `flush` -- before the commit and
    before any read that could need them, never inside a savepoint -- so a batch of commands pays
    one statement per table instead of one per command. A flush that fails leaves the store
    broken: the transaction can no longer commit (on SQLite a failed executemany may have written
    part of its rows)."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self._staged = Changeset()
        self._staged_client_ids: dict[tuple[str, str], Rfq] = {}
        self.broken = False
        self.in_savepoint = False  # staged rows written inside a savepoint would die with its rollback

    def save(self, changes: Changeset) -> None:
        self._staged.rfqs.extend(changes.rfqs)
        self._staged.quotes.extend(changes.quotes)
        self._staged.fills.extend(changes.fills)
        self._staged.events.extend(changes.events)
        for rfq in changes.rfqs:
            self._staged_client_ids[(rfq.requester, rfq.client_req_id)] = rfq

    @property
    def staged_rows(self) -> int:
        staged = self._staged
        return len(staged.rfqs) + len(staged.quotes) + len(staged.fills) + len(staged.events)

    def flush(self) -> None:
        """Write every staged row (RFQs, then quotes, fills and events: the foreign keys' order)."""
        if self.broken:
            raise RuntimeError("an earlier staged write failed: this transaction cannot commit")
        assert not self.in_savepoint, "staged rows are never written inside a command's savepoint"
        staged = self._staged
        if staged.is_empty:
            return
        self._staged, self._staged_client_ids = Changeset(), {}
        try:
            save_changeset(self._uow, staged)
        except BaseException:
            self.broken = True
            raise

    def record_event(self, event: DomainEvent) -> None:
        self._staged.events.append(event)

    def find_rfq_by_client_id(self, requester: SessionName, client_req_id: str) -> Rfq | None:
        """Staged rows first (they are newer), then SQL: asked for every new RFQ, so it never flushes."""
        staged = self._staged_client_ids.get((requester, client_req_id))
        if staged is not None:
            return staged
        return find_rfq_by_client_id(self._uow.session, requester, client_req_id)

    def client_id_taken(self, requester: SessionName, client_req_id: str) -> bool:
        """Asked for every new RFQ (ids memory forgot): staged rows, then one indexed SELECT of an id."""
        if (requester, client_req_id) in self._staged_client_ids:
            return True
        # On the connection: RFQ rows are written by Core statements, the ORM session holds none to flush.
        found = self._uow.session.connection().execute(CLIENT_ID_TAKEN, {"requester": requester,
                                                                          "client_req_id": client_req_id})
        return found.first() is not None

    def load_book(self) -> RfqBook:
        self.flush()
        return load_book(self._uow.session)

    def pending_operator_commands(self, limit: int) -> list[OperatorCommand]:
        return OperatorQueue(self._uow.session).pending(limit)

    def settled_fill(self, rfq_id: RfqId, exec_id: str) -> SettledFill | None:
        self.flush()
        row = self._uow.session.execute(
            select(QuoteRow.solver_session, RfqRow.symbol, FillRow.last_price, FillRow.last_quantity)
            .join(QuoteRow, QuoteRow.id == FillRow.quote_id).join(RfqRow, RfqRow.id == FillRow.rfq_id)
            .where(FillRow.rfq_id == rfq_id, FillRow.exec_id == exec_id)).first()
        return None if row is None else SettledFill(row[0], row[1], row[2], row[3])

    def rfq_by_acceptance(self, requester: SessionName, client_resp_id: str) -> Rfq | None:
        self.flush()
        row = self._uow.session.scalar(select(RfqRow).where(RfqRow.requester_session == requester,
                                                            RfqRow.client_resp_id == client_resp_id).limit(1)
                                       .execution_options(populate_existing=True))
        return rfq_from_row(row) if row is not None else None

    def quote_received(self, solver: SessionName, solver_quote_id: str, rfq_id: RfqId) -> bool:
        self.flush()
        found = self._uow.session.scalar(select(QuoteRow.id).where(
            QuoteRow.rfq_id == rfq_id, QuoteRow.solver_session == solver,
            QuoteRow.solver_quote_id == solver_quote_id).limit(1))
        return found is not None

    def load_progress(self) -> dict[SessionName, SessionProgress]:
        rows = self._uow.session.scalars(select(SessionProgressRow)).all()
        return {SessionName(row.comp_id): SessionProgress(row.sequence_epoch, row.last_processed_seq) for row in rows}

    def stage_outbound(self, messages: list[out.Outbound], at: datetime) -> int:
        """Write the messages to the FIX outbox; returns the last id written (0: none)."""
        rows = []
        for message in messages:
            message_type, payload = outbox_codec.encode(message)
            rows.append({"session": message.to, "message_type": message_type, "payload": payload, "created_at": at})
        if not rows:
            return 0
        table = table_of(FixOutboxRow)
        ids = self._uow.session.execute(insert(table).returning(table.c.id), rows).scalars().all()
        return max(ids)

    def mark_outbound_delivered(self, through_id: int, keep_mark: bool = False) -> None:
        """Every outbox message up to `through_id` is in QuickFIX's store: drop them. What is left is
        what was never handed over (ids are never reused), so the delete is the mark; `keep_mark`
        also records it in fix_outbox_state (at start-up, for the operator's eyes)."""
        session = self._uow.session
        if keep_mark:
            upsert(session, table_of(FixOutboxStateRow), [{"id": 1, "delivered_through": through_id}], ["id"])
        session.execute(DELETE_DELIVERED, {"through_id": through_id})

    def undelivered_outbound(self) -> list[tuple[int, out.Outbound]]:
        session = self._uow.session
        state = session.get(FixOutboxStateRow, 1)
        through = state.delivered_through if state is not None else 0
        rows = session.scalars(select(FixOutboxRow).where(FixOutboxRow.id > through).order_by(FixOutboxRow.id))
        return [(row.id, outbox_codec.decode(row.message_type, row.payload)) for row in rows]

    def save_progress(self, session: SessionName, progress: SessionProgress, at: datetime) -> None:
        upsert(self._uow.session, table_of(SessionProgressRow),
               [{"comp_id": session, "sequence_epoch": progress.epoch, "last_processed_seq": progress.last_seq,
                 "updated_at": at}], ["comp_id"])

    def mark_operator_command_applied(self, command_id: int, at: datetime, result: str) -> None:
        OperatorQueue(self._uow.session).mark_applied(command_id, at, result)


class SqlGatewayUnitOfWork:
    """One SQL transaction holding the ledger and the gateway's store (gateway.ports.GatewayUnitOfWork)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        self._inner = SqlUnitOfWork(sessions, clock=clock.now)  # rows carry the engine's (injected) time
        self._store: SqlGatewayStore | None = None

    def __enter__(self) -> SqlGatewayUnitOfWork:
        self._inner.__enter__()
        self._store = SqlGatewayStore(self._inner)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self._store = None
        self._inner.__exit__(exc_type, exc, traceback)

    @property
    def ledger(self) -> Ledger:
        return self._inner.ledger

    @property
    def store(self) -> SqlGatewayStore:
        assert self._store is not None, "use the unit of work inside a with block"
        return self._store

    @property
    def session(self) -> Session:
        return self._inner.session

    @contextmanager
    def savepoint(self, virtual: bool = False) -> Iterator[None]:
        """One command's ledger postings: undone alone if it is refused. Rows other commands staged
        stay staged (in memory) meanwhile: nothing inside may flush them.

        A SQL SAVEPOINT costs two statements and SQLAlchemy's nested-transaction bookkeeping per
        command; `virtual` undoes the ledger's staged rows instead (ledger/pending.py), which holds
        as long as nothing of the command reached the database -- if something did, the batch
        cannot commit and the engine decides each command again alone, with SQL savepoints."""
        store = self.store
        staged_before = store.staged_rows
        ledger = self._inner.ledger
        mark = ledger.mark() if virtual else None
        store.in_savepoint = True
        try:
            if mark is not None:
                yield
            else:
                with self._inner.session.begin_nested():
                    yield
        except BaseException:
            undone = ledger.undo_to(mark) if mark is not None else True
            if mark is None:
                ledger.forget_locks()  # the rollback released the row locks taken inside it
            if store.staged_rows != staged_before or not undone:
                store.broken = True  # rows of a command that did not hold may be written: the batch cannot commit
            raise
        finally:
            store.in_savepoint = False

    def commit(self) -> None:
        self.store.flush()
        self._inner.commit()


def save_changeset(uow: SqlUnitOfWork, changes: Changeset) -> None:
    """Stage every row of a changeset in the unit of work's transaction (no commit here): one
    upsert per table, fills and events inserted in one statement each."""
    session: Session = uow.session
    # The last row staged for an id is its newest state: one row per id.
    rfqs = {rfq.rfq_id: rfq for rfq in changes.rfqs}
    quotes = {quote.quote_id: quote for quote in changes.quotes}
    upsert(session, table_of(RfqRow), [_rfq_values(rfq) for rfq in rfqs.values()], ["id"])
    upsert(session, table_of(QuoteRow), [_quote_values(quote) for quote in quotes.values()], ["id"])
    if changes.fills:
        session.execute(insert(table_of(FillRow)), [
            {"rfq_id": fill.rfq_id, "quote_id": fill.quote_id, "exec_id": fill.exec_id,
             "last_price": fill.last_price, "last_quantity": fill.last_quantity, "nbbo_bid": fill.nbbo_bid,
             "nbbo_offer": fill.nbbo_offer, "created_at": fill.occurred_at} for fill in changes.fills])
    uow.add_events([(event.event_type, event.payload(), event.rfq_id, event.occurred_at) for event in changes.events])


def _rfq_values(rfq: Rfq) -> dict[str, Any]:
    return dict(
        id=rfq.rfq_id, requester_session=rfq.requester, requester_account=rfq.requester_account,
        client_req_id=rfq.client_req_id, symbol=rfq.symbol, side=rfq.side.value, quantity=rfq.quantity,
        limit_price=rfq.limit_price, state=rfq.state.value, mode=rfq.mode.value, origin=rfq.origin.value,
        created_at=rfq.created_at,
        submission_deadline=rfq.submission_deadline, acceptance_deadline=rfq.acceptance_deadline,
        accepted_quote_id=rfq.accepted_quote_id, client_resp_id=rfq.client_resp_id,
        filled_quantity=rfq.filled_quantity, average_price=rfq.average_price,
        updated_at=rfq.updated_at or rfq.created_at,
    )


def _quote_values(quote: Quote) -> dict[str, Any]:
    return dict(
        id=quote.quote_id, rfq_id=quote.rfq_id, solver_session=quote.solver, solver_account=quote.solver_account,
        solver_quote_id=quote.solver_quote_id, bid_price=quote.bid_price, offer_price=quote.offer_price,
        bid_size=quote.bid_size, offer_size=quote.offer_size, valid_until=quote.valid_until,
        received_at=quote.received_at, status=quote.status.value, sequence=quote.sequence,
    )


def rfq_from_row(row: RfqRow) -> Rfq:
    return Rfq(
        rfq_id=RfqId(row.id), requester=SessionName(row.requester_session), requester_account=row.requester_account,
        client_req_id=row.client_req_id, symbol=row.symbol, side=Side(row.side), quantity=row.quantity,
        limit_price=row.limit_price, created_at=row.created_at, submission_deadline=row.submission_deadline,
        acceptance_deadline=row.acceptance_deadline, state=RfqState(row.state), mode=ExecutionMode(row.mode),
        origin=RfqOrigin(row.origin),
        accepted_quote_id=QuoteId(row.accepted_quote_id) if row.accepted_quote_id else None,
        client_resp_id=row.client_resp_id, filled_quantity=row.filled_quantity, average_price=row.average_price,
        updated_at=row.updated_at,
    )


def quote_from_row(row: QuoteRow) -> Quote:
    return Quote(
        quote_id=QuoteId(row.id), rfq_id=RfqId(row.rfq_id), solver=SessionName(row.solver_session),
        solver_account=row.solver_account, solver_quote_id=row.solver_quote_id, bid_price=row.bid_price,
        offer_price=row.offer_price, bid_size=row.bid_size, offer_size=row.offer_size,
        valid_until=row.valid_until, received_at=row.received_at, sequence=row.sequence,
        status=QuoteStatus(row.status),
    )


def load_book(session: Session) -> RfqBook:
    """Rebuild the engine's memory after a restart: every open RFQ with its quotes."""
    highest_rfq = session.scalar(select(func.max(RfqRow.id))) or 0
    highest_quote = session.scalar(select(func.max(QuoteRow.sequence))) or 0
    book = RfqBook(next_rfq_id=highest_rfq + 1, next_quote_sequence=highest_quote + 1)
    open_states = [state.value for state in RfqState if state not in TERMINAL_STATES]
    rows = session.scalars(select(RfqRow).where(RfqRow.state.in_(open_states))).all()
    changes = Changeset(rfqs=[rfq_from_row(row) for row in rows])
    quote_rows = session.scalars(select(QuoteRow).where(QuoteRow.rfq_id.in_([row.id for row in rows]))
                                 .order_by(QuoteRow.sequence)).all()
    changes.quotes = [quote_from_row(row) for row in quote_rows]
    book.apply(changes)
    return book


def find_rfq_by_client_id(session: Session, requester: str, client_req_id: str) -> Rfq | None:
    row = session.scalar(select(RfqRow).where(RfqRow.requester_session == requester,
                                              RfqRow.client_req_id == client_req_id)
                         .execution_options(populate_existing=True))  # rows are written by Core upserts
    return rfq_from_row(row) if row is not None else None
