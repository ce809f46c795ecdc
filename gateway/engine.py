"""The RFQ engine: one thread, owning the book, turning commands into committed changes.

The worker hands the engine every command waiting, as a batch. For each command: decide (pure
handlers, which read the book and balances and return a Changeset with ledger intents), run its
ledger intents in a SAVEPOINT of its own (gateway/recorder.py), stage its rows, and apply it to
memory, so the next command of the batch sees it. A refused command rolls back its savepoint
alone (deciding and staging write nothing). Then one commit for the whole batch -- its staged
rows written one statement per table, each session's last processed MsgSeqNum (exactly-once
intake, gateway/domain/progress.py) and every reply it decided (the FIX outbox) -- and only after
the commit is any reply sent: a state change is always durable before a message reports it
(group commit). The next transaction deletes the outbox rows that reached QuickFIX's store;
replies a crash kept from it are sent at the next start (PossResend=Y).

Error boundary: every inbound message gets exactly one answer. An unexpected exception while
deciding or recording a command rolls its savepoint back and answers with the reject that fits
the message (AG 658=99, ER 150=8, AI 297=5, BN 1036=2 or j 380=0), logged with its traceback.
If the batch's write or commit fails, memory is rebuilt from the database and each command is
decided again alone, in a transaction of its own; a lone command whose commit fails is refused
(a duplicate key as DUPLICATE_ID): nothing of it happened.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import structlog
from sqlalchemy.exc import IntegrityError

from core.clock import Clock
from core.refusal import RejectReason
from core.types import SessionName
from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.commands import (
    AcceptQuote,
    CancelQuote,
    CancelRfq,
    Inbound,
    QueryOrder,
    ReportExecution,
    RequestQuote,
    SessionStatusChanged,
    SubmitQuote,
)
from gateway.domain.errors import DomainRejection
from gateway.domain.policy import GatewayPolicy
from gateway.domain.progress import SessionProgress
from gateway.engine_rejects import failure_reply, rejection_for
from gateway.engine_sessions import SessionDesk
from gateway.engine_timers import TimerDesk
from gateway.handlers import drop_copy as handlers_drop_copy
from gateway.handlers import intake as handlers_intake
from gateway.handlers import lifecycle as handlers_lifecycle
from gateway.handlers import quotes as handlers_quotes
from gateway.handlers import settlement as handlers_settlement
from gateway.handlers.replays import already_processed
from gateway.ports import GatewayUnitOfWork
from gateway.recorder import Decide, Refused, record, record_in_batch

log = structlog.get_logger(__name__)

INTERNAL_ERROR_TEXT = "internal error: the message was refused and nothing was changed"

# Called on the engine thread with each committed Changeset; must be quick and never block.
CommitObserver = Callable[[Changeset], None]


@dataclass
class _Batch:
    """What one transaction decided: sent and observed only after its commit."""

    outbound: list[out.Outbound] = field(default_factory=list)
    committed: list[Changeset] = field(default_factory=list)
    progress: dict[SessionName, SessionProgress] = field(default_factory=dict)
    # Commands of a batch of several undo a refusal's postings without a SQL savepoint; a command
    # decided alone (a batch of one, or again after its batch failed) uses one.
    virtual_savepoints: bool = False


class RfqEngine:
    def __init__(self, policy: GatewayPolicy, book: RfqBook, uow_factory: Callable[[], GatewayUnitOfWork],
                 clock: Clock, send: Callable[[out.Outbound], None], poll_operator_commands: bool = True,
                 observers: Sequence[CommitObserver] = (),
                 progress: dict[SessionName, SessionProgress] | None = None,
                 resend: Callable[[out.Outbound], None] | None = None) -> None:
        """`send` hands a message to the FIX session (QuickFIX stores it for resend); `resend` does
        the same for a message that may have gone before (PossResend 97=Y)."""
        self.policy = policy
        self.book = book
        self._uow_factory = uow_factory
        self._clock = clock
        self._send = send
        self._resend = resend or send
        self._delivered_through = 0  # the last FIX outbox id handed to QuickFIX
        self._marked_through = 0  # the last one recorded as handed over
        self._observers = tuple(observers)
        self.progress: dict[SessionName, SessionProgress] = dict(progress or {})
        self.sessions = SessionDesk(self)
        self.timers = TimerDesk(self, poll_operator_commands)

    def add_observer(self, observer: CommitObserver) -> None:
        """One more commit observer (metrics, the console); add it before the engine starts."""
        self._observers = (*self._observers, observer)

    # -- entry points (the worker's thread) ------------------------------------------------
    def handle(self, command: object) -> None:
        self.handle_batch([command])

    def handle_batch(self, items: Sequence[object]) -> None:
        batch = _Batch(virtual_savepoints=len(items) > 1)
        try:
            with self._uow_factory() as uow:
                for item in items:
                    self._process(uow, item, batch)
                now = self._clock.now()
                for session, progress in batch.progress.items():
                    uow.store.save_progress(session, progress, now)
                staged = self._stage_outbound(uow, batch.outbound)
                uow.commit()
        except Exception as error:  # noqa: BLE001 - the commit failed: nothing of the batch happened
            self._reload_book()
            if len(items) > 1:
                # One command's rows (a key the database knew and memory did not) must not cost the
                # others their turn: each is decided again alone, in a transaction of its own.
                log.warning("batch_commit_failed_retrying_alone", commands=len(items), error=repr(error))
                for item in items:
                    self.handle_batch([item])
                return
            log.exception("batch_commit_failed", commands=len(items))
            self._send_all(_commit_failure(_command_of(items[0]), error, self.book))
            return
        self.progress.update(batch.progress)
        self._deliver(batch.outbound, staged)
        for changes in batch.committed:
            self._after_commit(changes)

    def start(self) -> None:
        """After a restart, before any session can log on: replies a crash kept from QuickFIX go now;
        nobody is logged on, so no quote stands."""
        self._redeliver_outbox()
        self.sessions.withdraw_absent_solvers()

    def tick(self) -> None:
        self.timers.tick()

    # -- one command of a batch ------------------------------------------------------------
    def _process(self, uow: GatewayUnitOfWork, item: object, batch: _Batch) -> None:
        origin = item if isinstance(item, Inbound) else None
        command = _command_of(item)
        session = getattr(command, "requester", None) or getattr(command, "solver", None)
        rfq_id = handlers_intake.parse_solver_query_id(getattr(command, "quote_req_id", "") or "")
        with structlog.contextvars.bound_contextvars(session=session, rfq_id=rfq_id):
            if origin is not None and self._seen_before(uow, origin, batch):
                return
            try:
                self._process_command(uow, command, batch)
            except Exception:  # noqa: BLE001 - the error boundary: refuse, (savepoint) rolled back, log
                log.exception("command_failed", command=type(command).__name__)
                batch.outbound.extend(_failure(command))
            if origin is not None:
                self._advance(origin, batch)

    def _process_command(self, uow: GatewayUnitOfWork, command: object, batch: _Batch) -> None:
        match command:
            case SessionStatusChanged():
                decide = self.sessions.status_changed(command, batch.progress)
            case QueryOrder():
                batch.outbound.append(self._order_status(uow, command))
                return
            case _:
                decide = self._decision_for(command, self._clock.now())
        try:
            changes = record_in_batch(uow, decide, virtual_savepoint=batch.virtual_savepoints)
        except Refused as refused:
            self._refused(uow, command, refused.rejection, batch)
            return
        self._apply_in_memory(changes)
        batch.outbound.extend(changes.outbound)
        batch.committed.append(changes)

    def _decision_for(self, command: object, now: datetime) -> Decide:
        """The pure handler for a command, bound to its inputs; it runs inside the unit of work."""
        book, policy = self.book, self.policy
        match command:
            case RequestQuote():
                return lambda uow: handlers_intake.request_quote(
                    command, policy, book, uow.ledger, now, id_taken=_id_taken_in(uow))
            case SubmitQuote():
                return lambda uow: handlers_quotes.submit_quote(command, policy, book, now)
            case CancelQuote():
                return lambda uow: handlers_quotes.cancel_quote(command, book, now)
            case CancelRfq():
                return lambda uow: handlers_lifecycle.cancel_rfq(command, book, now)
            case AcceptQuote():
                return lambda uow: handlers_settlement.accept_quote(command, book, now,
                                                                    now + policy.settlement_timeout,
                                                                    margin=policy.margin)
            case ReportExecution():
                nbbo = self._nbbo_of(command)
                return lambda uow: handlers_settlement.report_execution(command, book, now, nbbo,
                                                                        find_settled=uow.store.settled_fill,
                                                                        margin=policy.margin)
        raise AssertionError(f"no handler for {type(command).__name__}")

    def _refused(self, uow: GatewayUnitOfWork, command: object, refusal: DomainRejection, batch: _Batch) -> None:
        log.debug("command_refused", command=type(command).__name__, reason=refusal.reason.value, text=refusal.text)
        batch.outbound.extend(rejection_for(command, refusal, self.book))
        if isinstance(command, RequestQuote):
            self.sessions.record_rejection(uow, command, refusal)

    def _seen_before(self, uow: GatewayUnitOfWork, origin: Inbound, batch: _Batch) -> bool:
        """A message processed already: below the session's progress, or a PossDup whose id is known."""
        progress = batch.progress.get(origin.session) or self.progress.get(origin.session)
        if progress is not None and progress.covers(origin.seq):
            log.info("duplicate_message_skipped", seq=origin.seq, last_processed=progress.last_seq)
            return True
        if origin.poss_dup and already_processed(origin.command, self.book, uow.store):
            log.info("resent_message_already_processed", seq=origin.seq, command=type(origin.command).__name__)
            self._advance(origin, batch)
            return True
        return False

    def _advance(self, origin: Inbound, batch: _Batch) -> None:
        progress = batch.progress.get(origin.session) or self.progress.get(origin.session)
        if progress is None:
            return  # the session's logon was never seen (a test driving the engine directly)
        batch.progress[origin.session] = progress.advanced_to(origin.seq)

    def _order_status(self, uow: GatewayUnitOfWork, command: QueryOrder) -> out.Outbound:
        rfq = self.book.rfq_by_client_id(command.requester, command.cl_ord_id)
        if rfq is None:
            rfq = uow.store.find_rfq_by_client_id(command.requester, command.cl_ord_id)
        return handlers_lifecycle.order_status(command, rfq)

    def _nbbo_of(self, command: ReportExecution) -> tuple[Decimal, Decimal] | None:
        rfq_id = handlers_settlement.parse_acceptance_id(command.quote_resp_id)
        rfq = self.book.rfq(rfq_id) if rfq_id is not None else None
        return self.policy.reference_nbbo(rfq.symbol) if rfq is not None else None

    # -- decisions outside an inbound message (timers, operators, start) --------------------
    def commit(self, decide: Decide) -> Changeset:
        """Decide and record in a transaction of its own; only after the commit apply and send.

        An exception before the commit propagates (nothing was written). After the commit
        nothing propagates: the change is durable and must be applied and reported."""
        staged: list[tuple[int, int]] = []
        changes = record(self._uow_factory, decide,
                         before_commit=lambda uow, decided: staged.append(self._stage_outbound(uow, decided.outbound)))
        self._apply_in_memory(changes)
        self._deliver(changes.outbound, staged[0])
        self._after_commit(changes)
        return changes

    # -- the FIX outbox ---------------------------------------------------------------------------
    def _stage_outbound(self, uow: GatewayUnitOfWork, messages: list[out.Outbound]) -> tuple[int, int]:
        """In the transaction: this batch's replies, and the mark of what earlier batches handed over.
        Returns (last id staged or 0, the mark written). The drop copies of the replies join them here
        (in place: they are staged, sent and observed with the replies they copy)."""
        messages.extend(handlers_drop_copy.copies_of(messages, self.policy.drop_copy_sessions()))
        marked = self._marked_through
        if self._delivered_through > marked:
            uow.store.mark_outbound_delivered(self._delivered_through)
            marked = self._delivered_through
        return uow.store.stage_outbound(messages, self._clock.now()), marked

    def _deliver(self, messages: list[out.Outbound], staged: tuple[int, int]) -> None:
        """After the commit: hand every reply to QuickFIX (whose store keeps it for resend)."""
        last_id, marked = staged
        self._marked_through = marked
        self._send_all(messages)
        if last_id:
            self._delivered_through = last_id

    def _redeliver_outbox(self) -> None:
        with self._uow_factory() as uow:
            pending = uow.store.undelivered_outbound()
        if not pending:
            return
        for _, message in pending:
            try:
                self._resend(message)
            except Exception:  # noqa: BLE001 - one bad message must not keep the others back
                log.exception("outbox_redelivery_failed", message=type(message).__name__)
        with self._uow_factory() as uow:
            uow.store.mark_outbound_delivered(pending[-1][0], keep_mark=True)
            uow.commit()
        self._delivered_through = self._marked_through = pending[-1][0]
        log.warning("outbox_redelivered", messages=len(pending))

    # -- memory, sending, observers ------------------------------------------------------------
    def _apply_in_memory(self, changes: Changeset) -> None:
        try:
            self.book.apply(changes)
        except Exception:  # noqa: BLE001 - memory must follow the database: rebuild it from there
            log.critical("book_apply_failed_reloading", exc_info=True)
            self._reload_book()

    def _after_commit(self, changes: Changeset) -> None:
        for rfq in changes.rfqs:
            log.debug("rfq_state", rfq_id=rfq.rfq_id, session=rfq.requester, state=rfq.state.value)
        for note in changes.notes:
            log.info("engine_note", note=note)
        for observer in self._observers:
            try:
                observer(changes)
            except Exception:  # noqa: BLE001 - an observer's failure never reaches the engine
                log.exception("observer_failed", observer=getattr(observer, "__name__", repr(observer)))

    def _send_all(self, messages: list[out.Outbound]) -> None:
        """Send each message; a failure to render or send one is logged and never stops the rest."""
        for message in messages:
            try:
                self._send(message)
            except Exception:  # noqa: BLE001
                log.exception("send_failed", message=type(message).__name__, to=getattr(message, "to", None))

    def _reload_book(self) -> None:
        with self._uow_factory() as uow:
            fresh = uow.store.load_book()
        fresh.logged_on.update(self.book.logged_on)
        fresh.disabled_solvers.update(self.book.disabled_solvers)
        self.book = fresh

    def uow(self) -> GatewayUnitOfWork:
        return self._uow_factory()

    def now(self) -> datetime:
        return self._clock.now()


def _command_of(item: object) -> object:
    return item.command if isinstance(item, Inbound) else item


def _failure(command: object) -> list[out.Outbound]:
    try:
        return failure_reply(command, RejectReason.OTHER, INTERNAL_ERROR_TEXT)
    except Exception:  # noqa: BLE001 - nothing more can be done for this message
        log.exception("refusal_failed", command=type(command).__name__)
        return []


def _commit_failure(command: object, error: Exception, book: RfqBook) -> list[out.Outbound]:
    """A lone command whose transaction failed: a key the database enforces but memory did not
    know (an id reused across a restart) is the counterparty's duplicate; anything else is ours."""
    if isinstance(error, IntegrityError):
        try:
            return rejection_for(command, DomainRejection(RejectReason.DUPLICATE_ID, "duplicate id"), book)
        except Exception:  # noqa: BLE001 - fall back to the generic refusal
            log.exception("refusal_failed", command=type(command).__name__)
    return _failure(command)


def _id_taken_in(uow: GatewayUnitOfWork) -> Callable[[SessionName, str], bool]:
    def id_taken(requester: SessionName, client_req_id: str) -> bool:
        return uow.store.client_id_taken(requester, client_req_id)

    return id_taken
