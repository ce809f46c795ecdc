"""Handlers for a requester cancelling its RFQ or order, order status queries,
and operator commands on solvers."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from core.refusal import RejectReason
from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.commands import ApplyOperatorCommand, CancelRfq, QueryOrder
from gateway.domain.errors import DomainRejection
from gateway.domain.events import RfqCanceled
from gateway.domain.policy import GatewayPolicy
from gateway.domain.quotes import QuoteStatus
from gateway.domain.rfq import Rfq, RfqState, Trigger
from gateway.handlers.quotes import withdraw_solver
from gateway.handlers.settlement import retire_other_quotes


def cancel_rfq(command: CancelRfq, book: RfqBook, now: datetime) -> Changeset:
    rfq = book.rfq_by_client_id(command.requester, command.client_req_id)
    if rfq is None:
        raise DomainRejection(RejectReason.UNKNOWN_ID, f"no open RFQ or order {command.client_req_id}")
    if rfq.state is not RfqState.QUOTING:
        raise DomainRejection(RejectReason.TOO_LATE, f"too late to cancel: RFQ is {rfq.state.value}")
    canceled = rfq.apply(Trigger.CANCEL, now)
    changes = Changeset(rfqs=[canceled], presented={rfq.rfq_id: None})
    retire_other_quotes(canceled, book, changes, QuoteStatus.WITHDRAWN, "RFQ canceled by the requester")
    changes.events.append(RfqCanceled(rfq_id=rfq.rfq_id, occurred_at=now, cancel_id=command.cancel_id))
    if rfq.is_order:
        changes.outbound.append(out.RequesterReport(
            to=rfq.requester, kind=out.ReportKind.CANCELED, cl_ord_id=command.cancel_id,
            orig_cl_ord_id=rfq.client_req_id, order_id=f"rfq-{rfq.rfq_id}", exec_id=f"{rfq.rfq_id}-canceled",
            symbol=rfq.symbol, side=rfq.side, order_quantity=rfq.quantity, cum_quantity=Decimal(0),
            average_price=None, text="canceled before acceptance"))
    else:
        changes.outbound.append(out.QuoteStatusReport(
            to=rfq.requester, quote_req_id=rfq.client_req_id, quote_id=None, symbol=rfq.symbol,
            status=out.QuoteAck.RFQ_CANCELED, text="RFQ canceled"))
    return changes


def order_status(command: QueryOrder, rfq: Rfq | None) -> out.RequesterReport:
    """The current state of an order (or RFQ) of this session, as an ExecutionReport 150=I."""
    if rfq is None or rfq.requester != command.requester:
        return out.RequesterReport(
            to=command.requester, kind=out.ReportKind.STATUS, cl_ord_id=command.cl_ord_id, order_id="NONE",
            exec_id=f"status-{command.cl_ord_id}", symbol=command.symbol, side=command.side,
            order_quantity=Decimal(0),
            cum_quantity=Decimal(0), average_price=None, text="unknown order", status=RfqState.REJECTED.value)
    # An RFQ settles in one fill: its price is the average, its quantity the cumulative one, and its
    # ExecID the fill report's, so a requester that missed the report can book the trade from this.
    filled = rfq.filled_quantity > 0
    return out.RequesterReport(
        to=rfq.requester, kind=out.ReportKind.STATUS, cl_ord_id=rfq.client_req_id, order_id=f"rfq-{rfq.rfq_id}",
        exec_id=f"status-{rfq.rfq_id}", symbol=rfq.symbol, side=rfq.side, order_quantity=rfq.quantity,
        cum_quantity=rfq.filled_quantity, average_price=rfq.average_price, status=rfq.state.value,
        last_price=rfq.average_price if filled else None, last_quantity=rfq.filled_quantity if filled else None,
        fill_exec_id=out.fill_exec_id(rfq.rfq_id) if filled else None)


def apply_operator_command(command: ApplyOperatorCommand, policy: GatewayPolicy, book: RfqBook,
                           now: datetime) -> tuple[Changeset, str]:
    party = policy.counterparty(command.comp_id)
    if party is None or not party.role.can_quote():
        return Changeset(), f"ignored: {command.comp_id} is not a solver session"
    if command.command == "disable_solver":
        changes = withdraw_solver(command.comp_id, book, now, "disabled by the operator")
        changes.disabled_solvers[command.comp_id] = True  # applied with the rest, after the commit
        return changes, f"disabled; {len(changes.quotes)} live quote(s) pulled"
    if command.command == "enable_solver":
        return Changeset(disabled_solvers={command.comp_id: False}), "enabled"
    return Changeset(), f"ignored: unknown command {command.command}"
