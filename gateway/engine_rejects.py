"""The reject that fits each refused command (what the FIX boundary will render)."""
from __future__ import annotations

from decimal import Decimal

from core.refusal import RejectReason
from core.types import SessionName
from gateway.domain import outbound as out
from gateway.domain.book import RfqBook
from gateway.domain.commands import (
    AcceptQuote,
    CancelQuote,
    CancelRfq,
    QueryOrder,
    ReportExecution,
    RequestQuote,
    SubmitQuote,
)
from gateway.domain.errors import DomainRejection
from gateway.domain.rfq import RfqOrigin


def rejection_for(command: object, refusal: DomainRejection, book: RfqBook) -> list[out.Outbound]:
    match command:
        case RequestQuote(origin=RfqOrigin.ORDER):
            return [out.RequesterReport(
                to=command.requester, kind=out.ReportKind.REJECTED, cl_ord_id=command.client_req_id,
                order_id="NONE", exec_id=f"rej-{command.client_req_id}", symbol=command.symbol,
                side=command.side, order_quantity=command.quantity, cum_quantity=Decimal(0),
                average_price=None, text=refusal.text, reject_reason=refusal.reason)]
        case RequestQuote():
            return [out.RejectQuoteRequest(to=command.requester, client_req_id=command.client_req_id,
                                           symbol=command.symbol, reason=refusal.reason, text=refusal.text)]
        case SubmitQuote():
            return [out.QuoteStatusReport(to=command.solver, quote_req_id=command.quote_req_id,
                                    quote_id=command.solver_quote_id, symbol=command.symbol,
                                    status=out.QuoteAck.REJECTED, text=refusal.text)]
        case CancelQuote():
            return [out.QuoteStatusReport(to=command.solver, quote_req_id=command.quote_req_id,
                                    quote_id=command.solver_quote_id, symbol="[N/A]",
                                    status=out.QuoteAck.NOT_FOUND, text=refusal.text)]
        case CancelRfq():
            return [_cancel_refusal(command, refusal, book)]
        case AcceptQuote():
            return [out.BusinessReject(to=command.requester, ref_msg_type="AJ", ref_id=command.client_resp_id,
                                       reason=refusal.reason, text=refusal.text)]
        case ReportExecution():
            return [refused_ack(command, refusal.reason, refusal.text)]
    raise AssertionError(f"no rejection for {type(command).__name__}")


def _cancel_refusal(command: CancelRfq, refusal: DomainRejection, book: RfqBook) -> out.Outbound:
    rfq = book.rfq_by_client_id(command.requester, command.client_req_id)
    if command.order_cancel:  # an OrderCancelRequest is answered with 35=9
        return out.OrderCancelReject(
            to=command.requester, cl_ord_id=command.cancel_id, orig_cl_ord_id=command.client_req_id,
            order_id=f"rfq-{rfq.rfq_id}" if rfq else "NONE", too_late=refusal.reason is RejectReason.TOO_LATE,
            text=refusal.text, status=rfq.state.value if rfq else None)
    return out.BusinessReject(to=command.requester, ref_msg_type="Z", ref_id=command.client_req_id,
                              reason=refusal.reason, text=refusal.text)


def failure_reply(command: object, reason: RejectReason, text: str) -> list[out.Outbound]:
    """The reject for a message refused without deciding it: throttled at intake, or an unexpected
    error in the engine (rolled back). Reads no state, so QuickFIX's threads may call it too."""
    match command:
        case RequestQuote(origin=RfqOrigin.ORDER):
            return [out.RequesterReport(
                to=command.requester, kind=out.ReportKind.REJECTED, cl_ord_id=command.client_req_id,
                order_id="NONE", exec_id=f"rej-{command.client_req_id}", symbol=command.symbol,
                side=command.side, order_quantity=command.quantity, cum_quantity=Decimal(0),
                average_price=None, text=text, reject_reason=reason)]
        case RequestQuote():
            return [out.RejectQuoteRequest(to=command.requester, client_req_id=command.client_req_id,
                                           symbol=command.symbol, reason=reason, text=text)]
        case SubmitQuote():
            return [out.QuoteStatusReport(to=command.solver, quote_req_id=command.quote_req_id,
                                    quote_id=command.solver_quote_id, symbol=command.symbol,
                                    status=out.QuoteAck.REJECTED, text=text)]
        case CancelQuote():
            return [_business(command.solver, "Z", command.solver_quote_id or command.quote_req_id, reason, text)]
        case CancelRfq():
            return [_business(command.requester, "F" if command.order_cancel else "Z", command.cancel_id, reason, text)]
        case AcceptQuote():
            return [_business(command.requester, "AJ", command.client_resp_id, reason, text)]
        case ReportExecution():
            return [refused_ack(command, reason, text)]
        case QueryOrder():
            return [_business(command.requester, "H", command.cl_ord_id, reason, text)]
    return []  # not a counterparty's message (a session status change, an operator command): nobody to answer


def refused_ack(command: ReportExecution, reason: RejectReason, text: str) -> out.ExecutionAck:
    """A solver's fill report that settled nothing: the solver must not treat its trade as settled."""
    return out.ExecutionAck(to=command.solver, quote_resp_id=command.quote_resp_id, exec_id=command.exec_id,
                            status=out.ExecutionAckStatus.REFUSED, last_price=command.last_price,
                            last_quantity=command.last_quantity, reason=reason, text=text)


def _business(to: SessionName, ref_msg_type: str, ref_id: str, reason: RejectReason, text: str) -> out.BusinessReject:
    return out.BusinessReject(to=to, ref_msg_type=ref_msg_type, ref_id=ref_id, reason=reason, text=text)
