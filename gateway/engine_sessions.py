"""The engine's session bookkeeping: logons and logouts, sequence progress, cancel on
disconnect, and quotes left standing by a restart. Runs on the engine's thread."""
from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from core.types import SessionName
from gateway.domain.book import Changeset
from gateway.domain.commands import RequestQuote, SessionStatusChanged
from gateway.domain.errors import DomainRejection
from gateway.domain.events import RfqRejected, SessionLoggedOn, SessionLoggedOut
from gateway.domain.progress import SessionProgress, at_logon
from gateway.domain.quotes import QuoteStatus
from gateway.domain.rfq import RfqState
from gateway.handlers import quotes as handlers_quotes
from gateway.ports import GatewayUnitOfWork
from gateway.recorder import Decide

if TYPE_CHECKING:
    from gateway.engine import RfqEngine

log = structlog.get_logger(__name__)


def decided(changes: Changeset) -> Decide:
    """A decision already made outside the unit of work (timers, session status): just record it."""
    def decide(uow: GatewayUnitOfWork) -> Changeset:
        return changes

    return decide


class SessionDesk:
    def __init__(self, engine: RfqEngine) -> None:
        self._engine = engine

    def status_changed(self, command: SessionStatusChanged,
                       pending_progress: dict[SessionName, SessionProgress]) -> Decide:
        """A logon or logout, in the session's own lane: before any message of the new connection."""
        engine, session = self._engine, command.session
        now = engine.now()
        event = (SessionLoggedOn if command.logged_on else SessionLoggedOut)(
            rfq_id=None, occurred_at=now, session=session)
        changes = Changeset(events=[event])
        if command.logged_on:
            engine.book.logged_on.add(session)
            if command.sequence_epoch is not None and command.next_expected_seq is not None:
                known = pending_progress.get(session) or engine.progress.get(session)
                progress = at_logon(known, command.sequence_epoch, command.next_expected_seq)
                if progress != known:
                    pending_progress[session] = progress
        else:
            engine.book.logged_on.discard(session)
            # Cancel on disconnect: a solver that is gone cannot honour its quotes.
            changes.merge(handlers_quotes.withdraw_solver(session, engine.book, now, "disconnected"))
        log.info("session_status", session=session, logged_on=command.logged_on)
        return decided(changes)

    def withdraw_absent_solvers(self) -> None:
        """Quotes reloaded after a restart belong to solvers not logged on (yet): withdrawn, requesters told."""
        engine = self._engine
        book = engine.book
        solvers = {quote.solver for rfq in book.rfqs_in(RfqState.QUOTING) for quote in book.quotes(rfq.rfq_id)
                   if quote.status is QuoteStatus.LIVE and quote.solver not in book.logged_on}
        for solver in sorted(solvers):
            changes = handlers_quotes.withdraw_solver(solver, book, engine.now(),
                                                      "gateway restarted; solver not logged on")
            engine.commit(decided(changes))

    def record_rejection(self, uow: GatewayUnitOfWork, command: RequestQuote, refusal: DomainRejection) -> None:
        """Best effort: an audit event for a refused RFQ; the refusal is sent whatever happens here."""
        try:
            with uow.savepoint():
                uow.store.record_event(RfqRejected(
                    rfq_id=None, occurred_at=self._engine.now(), reason=refusal.reason.value,
                    text=f"{command.requester} {command.client_req_id}: {refusal.text}"))
        except Exception:  # noqa: BLE001
            log.exception("rejection_event_failed")
