"""Recognising a resent message the engine has already processed (PossDupFlag 43=Y).

Sequence numbers catch almost every duplicate (a resend below the session's recorded progress
never reaches a handler). What they cannot catch -- a counterparty resending an earlier trading
day's messages after the roll, or a message resent under a new sequence number -- is recognised
here by the message's own id, and not processed a second time. Its first answer stands: the
counterparty gets it again by resend from our FIX store if it missed it.
"""
from __future__ import annotations

from typing import Protocol

from core.types import RfqId, SessionName
from gateway.domain.book import RfqBook, SettledFill
from gateway.domain.commands import AcceptQuote, RequestQuote, SubmitQuote
from gateway.domain.rfq import Rfq
from gateway.handlers.intake import parse_solver_query_id


class ProcessedLookup(Protocol):
    """What SQL knows of RFQs that memory may have forgotten (gateway.ports.GatewayStore)."""

    def find_rfq_by_client_id(self, requester: SessionName, client_req_id: str) -> Rfq | None: ...

    def rfq_by_acceptance(self, requester: SessionName, client_resp_id: str) -> Rfq | None: ...

    def quote_received(self, solver: SessionName, solver_quote_id: str, rfq_id: RfqId) -> bool: ...

    def settled_fill(self, rfq_id: RfqId, exec_id: str) -> SettledFill | None: ...


def already_processed(command: object, book: RfqBook, store: ProcessedLookup) -> bool:
    """The id this message carries was processed before (only asked of PossDup=Y messages)."""
    match command:
        case RequestQuote():
            return (book.rfq_by_client_id(command.requester, command.client_req_id) is not None
                    or store.find_rfq_by_client_id(command.requester, command.client_req_id) is not None)
        case AcceptQuote():
            return store.rfq_by_acceptance(command.requester, command.client_resp_id) is not None
        case SubmitQuote():
            rfq_id = parse_solver_query_id(command.quote_req_id)
            return rfq_id is not None and store.quote_received(command.solver, command.solver_quote_id, rfq_id)
    # A repeated ExecutionReport is not skipped: report_execution acknowledges a settled ExecID again.
    return False
