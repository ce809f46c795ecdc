"""The RFQ engine: one thread, owning the book, turning commands into committed changes.

For each command: decide (pure handlers, which read the book and balances and
return a Changeset with ledger intents) -> record (gateway/recorder.py: one
unit of work executes the intents, saves rows and outbox events, commits) ->
apply to memory -> send messages. A refusal rolls back and answers with the
reject that fits the command.

Error boundary: every inbound message gets exactly one answer. An unexpected
exception while deciding or recording rolls the transaction back and answers
with the reject that fits the message (AG 658=99, ER 150=8, AI 297=5 or
j 380=0), logged with its traceback. After the commit nothing may refuse: the
change is durable, so it is applied and reported whatever happens next.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime
from decimal import Decimal

import structlog

from core.clock import Clock
from core.refusal import RejectReason
from core.state_machine import InvalidTransition
from core.types import SessionName
from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.commands import (
    AcceptQuote,
    ApplyOperatorCommand,
    CancelQuote,
    CancelRfq,
    QueryOrder,
    ReportExecution,
    RequestQuote,
    SessionStatusChanged,
    SubmitQuote,
)
from gateway.domain.errors import DomainRejection, as_rejection
from gateway.domain.events import RfqRejected, SessionLoggedOn, SessionLoggedOut
from gateway.domain.policy import GatewayPolicy
from gateway.engine_rejects import failure_reply, rejection_for
from gateway.handlers import expiry as handlers_expiry
from gateway.handlers import intake as handlers_intake
from gateway.handlers import lifecycle as handlers_lifecycle
from gateway.handlers import quotes as handlers_quotes
from gateway.handlers import settlement as handlers_settlement
from gateway.ports import GatewayUnitOfWork
from gateway.recorder import Decide, record

log = structlog.get_logger(__name__)

TERMINAL_RFQS_KEPT_IN_MEMORY = 1_000
OPERATOR_POLL_INTERVAL_S = 1.0  # how soon an operator's `admin disable-solver` takes effect
OPERATOR_COMMANDS_PER_POLL = 50


# Called on the engine thread with each committed Changeset; must be quick and never block.
CommitObserver = Callable[[Changeset], None]


class RfqEngine:
    def __init__(self, policy: GatewayPolicy, book: RfqBook, uow_factory: Callable[[], GatewayUnitOfWork],
                 clock: Clock, send: Callable[[out.Outbound], None], poll_operator_commands: bool = True,
                 observers: Sequence[CommitObserver] = ()) -> None:
        self.policy = policy
        self.book = book
        self._uow_factory = uow_factory
        self._clock = clock
        self._send = send
        self._poll_operator = poll_operator_commands
        self._next_operator_poll = 0.0
        self._observers = tuple(observers)

    def handle(self, command: object) -> None:
        session = getattr(command, "requester", None) or getattr(command, "solver", None)
        rfq_id = handlers_intake.parse_solver_query_id(getattr(command, "quote_req_id", "") or "")
        with structlog.contextvars.bound_contextvars(session=session, rfq_id=rfq_id):
            try:
                self._dispatch(command)
            except Exception:  # noqa: BLE001 - the error boundary: refuse, (already) rolled back, log
                log.exception("command_failed", command=type(command).__name__)
                self._refuse_after_error(command)

    def _refuse_after_error(self, command: object) -> None:
        text = "internal error: the message was refused and nothing was changed"
        try:
            replies = failure_reply(command, RejectReason.OTHER, text)
        except Exception:  # noqa: BLE001 - nothing more can be done for this message
            log.exception("refusal_failed", command=type(command).__name__)
            return
        self._send_all(replies)

    def _send_all(self, messages: list[out.Outbound]) -> None:
        """Send each message; a failure to render or send one is logged and never stops the rest."""
        for message in messages:
            try:
                self._send(message)
            except Exception:  # noqa: BLE001
                log.exception("send_failed", message=type(message).__name__, to=getattr(message, "to", None))

    def _dispatch(self, command: object) -> None:
        match command:
            case SessionStatusChanged():
                self._session_status(command)
                return
            case QueryOrder():
                self._query_order(command)
                return
        decide = self._decision_for(command, self._clock.now())
        try:
            self._commit(decide)
        except (DomainRejection, InvalidTransition) as error:
            refusal = as_rejection(error)
            log.info("command_refused", command=type(command).__name__, reason=refusal.reason.value,
                     text=refusal.text)
            replies = rejection_for(command, refusal, self.book)
            if isinstance(command, RequestQuote):
                self._record_rejection(command, refusal)
            self._send_all(replies)

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
                                                                    now + policy.settlement_timeout)
            case ReportExecution():
                nbbo = self._nbbo_of(command)
                return lambda uow: handlers_settlement.report_execution(command, book, now, nbbo)
        raise AssertionError(f"no handler for {type(command).__name__}")

    def tick(self) -> None:
        now = self._clock.now()
        for rfq in handlers_expiry.due_for_expiry(self.book, now):
            expired = handlers_expiry.expire(rfq, self.book, now)
            self._commit(_decided(expired))
        timeout = self.policy.settlement_timeout
        for rfq in handlers_expiry.due_for_settlement_timeout(self.book, now, timeout):
            timed_out = handlers_settlement.settlement_timed_out(rfq, self.book, now, self.policy.settlement_timeout_s)
            self._commit(_decided(timed_out))
        refreshed = handlers_quotes.refresh_presented(self.book, now)
        if not refreshed.is_empty:
            self._commit(_decided(refreshed))
        self._poll_operator_commands()
        self.book.forget_terminal(TERMINAL_RFQS_KEPT_IN_MEMORY)

    def _nbbo_of(self, command: ReportExecution) -> tuple[Decimal, Decimal] | None:
        rfq_id = handlers_settlement.parse_acceptance_id(command.quote_resp_id)
        rfq = self.book.rfq(rfq_id) if rfq_id is not None else None
        return self.policy.reference_nbbo(rfq.symbol) if rfq is not None else None

    # -- commands without a state change --------------------------------------------
    def _session_status(self, command: SessionStatusChanged) -> None:
        now = self._clock.now()
        event = (SessionLoggedOn if command.logged_on else SessionLoggedOut)(
            rfq_id=None, occurred_at=now, session=command.session)
        changes = Changeset(events=[event])
        if command.logged_on:
            self.book.logged_on.add(command.session)
        else:
            self.book.logged_on.discard(command.session)
            # Cancel on disconnect: a solver that is gone cannot honour its quotes.
            changes.merge(handlers_quotes.withdraw_solver(command.session, self.book, now, "disconnected"))
        self._commit(_decided(changes))
        log.info("session_status", session=command.session, logged_on=command.logged_on)

    def _query_order(self, command: QueryOrder) -> None:
        rfq = self.book.rfq_by_client_id(command.requester, command.cl_ord_id)
        if rfq is None:
            with self._uow_factory() as uow:
                rfq = uow.store.find_rfq_by_client_id(command.requester, command.cl_ord_id)
        self._send_all([handlers_lifecycle.order_status(command, rfq)])

    def _poll_operator_commands(self) -> None:
        if not self._poll_operator or time.monotonic() < self._next_operator_poll:
            return
        self._next_operator_poll = time.monotonic() + OPERATOR_POLL_INTERVAL_S
        with self._uow_factory() as uow:
            pending = uow.store.pending_operator_commands(OPERATOR_COMMANDS_PER_POLL)
        for row in pending:
            command = ApplyOperatorCommand(row.id, row.command, SessionName(row.comp_id))
            now = self._clock.now()
            changes, result = handlers_lifecycle.apply_operator_command(command, self.policy, self.book, now)

            def decide(uow: GatewayUnitOfWork, changes: Changeset = changes, result: str = result,
                       command_id: int = row.id, now: datetime = now) -> Changeset:
                uow.store.mark_operator_command_applied(command_id, now, result)
                return changes

            self._commit(decide)
            log.info("operator_command_applied", command=row.command, session=row.comp_id, result=result)

    # -- the one transactional path ------------------------------------------------
    def _commit(self, decide: Decide) -> Changeset:
        """Decide and record in one transaction; only after the commit apply and send.

        An exception before the commit propagates (nothing was written). After the commit
        nothing propagates: the change is durable and must be applied and reported."""
        changes = record(self._uow_factory, decide)
        self._apply_committed(changes)
        return changes

    def _apply_committed(self, changes: Changeset) -> None:
        try:
            self.book.apply(changes)
        except Exception:  # noqa: BLE001 - memory must follow the database: rebuild it from there
            log.critical("book_apply_failed_reloading", exc_info=True)
            self._reload_book()
        for rfq in changes.rfqs:
            log.debug("rfq_state", rfq_id=rfq.rfq_id, session=rfq.requester, state=rfq.state.value)
        for note in changes.notes:
            log.info("engine_note", note=note)
        self._send_all(changes.outbound)
        self._notify_observers(changes)

    def _notify_observers(self, changes: Changeset) -> None:
        """Metrics, the console, monitors: they see every committed change, after it was sent.
        An observer's failure is logged and never reaches the engine."""
        for observer in self._observers:
            try:
                observer(changes)
            except Exception:  # noqa: BLE001
                log.exception("observer_failed", observer=getattr(observer, "__name__", repr(observer)))

    def _reload_book(self) -> None:
        with self._uow_factory() as uow:
            fresh = uow.store.load_book()
        fresh.logged_on.update(self.book.logged_on)
        fresh.disabled_solvers.update(self.book.disabled_solvers)
        self.book = fresh

    def _record_rejection(self, command: RequestQuote, refusal: DomainRejection) -> None:
        """Best effort: an audit event for a refused RFQ; the refusal is sent whatever happens here."""
        try:
            self._write_rejection_event(command, refusal)
        except Exception:  # noqa: BLE001
            log.exception("rejection_event_failed")

    def _write_rejection_event(self, command: RequestQuote, refusal: DomainRejection) -> None:
        with self._uow_factory() as uow:
            uow.store.record_event(RfqRejected(
                rfq_id=None, occurred_at=self._clock.now(), reason=refusal.reason.value,
                text=f"{command.requester} {command.client_req_id}: {refusal.text}"))
            uow.commit()


def _id_taken_in(uow: GatewayUnitOfWork) -> Callable[[SessionName, str], bool]:
    def id_taken(requester: SessionName, client_req_id: str) -> bool:
        return uow.store.find_rfq_by_client_id(requester, client_req_id) is not None

    return id_taken


def _decided(changes: Changeset) -> Decide:
    """A decision already made outside the unit of work (timers, session status): just record it."""
    def decide(uow: GatewayUnitOfWork) -> Changeset:
        return changes

    return decide
