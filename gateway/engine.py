"""The RFQ engine: one thread, owning the book, turning commands into committed changes.

For each command: decide (pure handlers) -> record (one SQL transaction: RFQ
rows, ledger entries, outbox events) -> apply to memory -> send messages. A
refusal rolls back and answers with the reject that fits the command.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog

from gateway import handlers_expiry, handlers_intake, handlers_settlement
from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.commands import AcceptQuote, ReportExecution, RequestQuote, SessionStatusChanged, SubmitQuote
from gateway.domain.errors import DomainRejection
from gateway.domain.events import RfqRejected
from gateway.domain.policy import GatewayPolicy
from gateway.repository import save_changeset
from rfq_runtime.clock import Clock

log = structlog.get_logger(__name__)

TERMINAL_RFQS_KEPT_IN_MEMORY = 1_000


class RfqEngine:
    def __init__(self, policy: GatewayPolicy, book: RfqBook, uow_factory: Callable[[], Any], clock: Clock,
                 send: Callable[[out.Outbound], None]) -> None:
        self.policy = policy
        self.book = book
        self._uow_factory = uow_factory
        self._clock = clock
        self._send = send

    def handle(self, command: object) -> None:
        if isinstance(command, SessionStatusChanged):
            self._session_status(command)
            return
        handler = {
            RequestQuote: self._request_quote,
            SubmitQuote: self._submit_quote,
            AcceptQuote: self._accept_quote,
            ReportExecution: self._report_execution,
        }.get(type(command))
        assert handler is not None, f"no handler for {type(command).__name__}"
        handler(command)

    def tick(self) -> None:
        now = self._clock.now()
        for rfq in handlers_expiry.due_for_expiry(self.book, now):
            self._commit(lambda uow, rfq=rfq: handlers_expiry.expire(rfq, self.book, now), rfq_id=rfq.rfq_id)
        self.book.forget_terminal(TERMINAL_RFQS_KEPT_IN_MEMORY)

    # -- per command ---------------------------------------------------------------
    def _request_quote(self, command: RequestQuote) -> None:
        now = self._clock.now()
        try:
            self._commit(lambda uow: handlers_intake.request_quote(command, self.policy, self.book, now))
        except DomainRejection as refusal:
            self._record_rejection(command, refusal)
            self._send(out.RejectQuoteRequest(to=command.requester, client_req_id=command.client_req_id,
                                              symbol=command.symbol, reason=refusal.reason, text=refusal.text))

    def _submit_quote(self, command: SubmitQuote) -> None:
        now = self._clock.now()
        try:
            self._commit(lambda uow: handlers_intake.submit_quote(command, self.policy, self.book, now))
        except DomainRejection as refusal:
            log.info("quote_rejected", session=command.solver, quote_req_id=command.quote_req_id, text=refusal.text)
            self._send(out.QuoteStatus(to=command.solver, quote_req_id=command.quote_req_id,
                                       quote_id=command.solver_quote_id, symbol=command.symbol,
                                       status=out.QuoteAck.REJECTED, text=refusal.text))

    def _accept_quote(self, command: AcceptQuote) -> None:
        now = self._clock.now()
        try:
            self._commit(lambda uow: handlers_settlement.accept_quote(command, self.book, uow.ledger, now))
        except DomainRejection as refusal:
            log.info("acceptance_rejected", session=command.requester, quote_id=command.quote_id, text=refusal.text)
            self._send(out.BusinessReject(to=command.requester, ref_msg_type="AJ", ref_id=command.client_resp_id,
                                          reason=refusal.reason, text=refusal.text))

    def _report_execution(self, command: ReportExecution) -> None:
        now = self._clock.now()
        try:
            self._commit(lambda uow: handlers_settlement.report_execution(command, self.book, uow.ledger, now))
        except DomainRejection as refusal:
            log.warning("execution_report_rejected", session=command.solver, exec_id=command.exec_id,
                        text=refusal.text)
            self._send(out.BusinessReject(to=command.solver, ref_msg_type="8", ref_id=command.exec_id,
                                          reason=refusal.reason, text=refusal.text))

    def _session_status(self, command: SessionStatusChanged) -> None:
        if command.logged_on:
            self.book.logged_on.add(command.session)
        else:
            self.book.logged_on.discard(command.session)
        log.info("session_status", session=command.session, logged_on=command.logged_on)

    # -- the one transactional path ------------------------------------------------
    def _commit(self, decide: Callable[[Any], Changeset], rfq_id: int | None = None) -> Changeset:
        with self._uow_factory() as uow:
            changes = decide(uow)
            save_changeset(uow, changes)
            uow.commit()
        self.book.apply(changes)
        for rfq in changes.rfqs:
            log.info("rfq_state", rfq_id=rfq.rfq_id, session=rfq.requester, state=rfq.state.value)
        for message in changes.outbound:
            self._send(message)
        return changes

    def _record_rejection(self, command: RequestQuote, refusal: DomainRejection) -> None:
        log.info("rfq_rejected", session=command.requester, client_req_id=command.client_req_id,
                 reason=refusal.reason.value, text=refusal.text)
        with self._uow_factory() as uow:
            event = RfqRejected(rfq_id=None, occurred_at=self._clock.now(), reason=refusal.reason.value,
                                text=f"{command.requester} {command.client_req_id}: {refusal.text}")
            uow.add_event(event.event_type, event.payload(), rfq_id=None, occurred_at=event.occurred_at)
            uow.commit()
