"""Drop copy: what each drop-copy session is sent, derived from the replies a transaction staged.

A session configured with `role = "drop_copy"` is read-only (its application messages are refused
with a BusinessMessageReject, gateway/fix/acceptor_app.py) and receives:

- a copy of every ExecutionReport the gateway sends to a requester (New, Fill, Done, Rejected,
  Canceled, Expired, status answers), with the requester in the Parties group (PartyRole 3);
- a copy of every fill it settles with a solver, on the solver's side (the opposite side, the
  solver's ExecID and the acceptance id it reported under as ClOrdID), with the solver in the
  Parties group (PartyRole 35). A repeated report of a fill already settled is not copied again.

The engine calls `copies_of` where it stages the batch's replies in the FIX outbox, so a copy is
written in the same transaction as the reply it copies: never a copy of something not committed,
never a committed reply without its copy. QuickFIX's store keeps the drop-copy session's
sequence numbers, so copies made while it is away arrive by resend when it returns.
"""
from __future__ import annotations

from collections.abc import Sequence

from core.types import SessionName
from gateway.domain import outbound as out
from gateway.handlers.settlement import parse_acceptance_id


def copies_of(messages: Sequence[out.Outbound], drop_copy_sessions: Sequence[SessionName]) -> list[out.Outbound]:
    """The drop copies of `messages`, for every drop-copy session, in the order of the originals."""
    if not drop_copy_sessions:
        return []
    fills = {report.order_id: report for report in messages
             if isinstance(report, out.RequesterReport) and report.kind is out.ReportKind.FILL}
    copies: list[out.Outbound] = []
    for message in messages:
        if isinstance(message, out.RequesterReport):
            copies.extend(requester_copy(message, session) for session in drop_copy_sessions)
        elif isinstance(message, out.ExecutionAck):
            fill = _settled_fill(message, fills)
            if fill is not None:
                copies.extend(solver_copy(message, fill, session) for session in drop_copy_sessions)
    return copies


def requester_copy(report: out.RequesterReport, to: SessionName) -> out.DropCopyReport:
    return out.DropCopyReport(
        to=to, party=report.to, party_role=out.CopiedParty.REQUESTER, kind=report.kind, cl_ord_id=report.cl_ord_id,
        order_id=report.order_id, exec_id=report.exec_id, symbol=report.symbol, side=report.side,
        order_quantity=report.order_quantity, cum_quantity=report.cum_quantity, average_price=report.average_price,
        last_price=report.last_price, last_quantity=report.last_quantity, quote_id=report.quote_id,
        text=report.text, reject_reason=report.reject_reason, orig_cl_ord_id=report.orig_cl_ord_id,
        status=report.status)


def solver_copy(ack: out.ExecutionAck, fill: out.RequesterReport, to: SessionName) -> out.DropCopyReport:
    """The solver's side of a settled fill: what it delivered, at the price it was settled at."""
    return out.DropCopyReport(
        to=to, party=ack.to, party_role=out.CopiedParty.SOLVER, kind=out.ReportKind.FILL,
        cl_ord_id=ack.quote_resp_id, order_id=fill.order_id, exec_id=ack.exec_id, symbol=fill.symbol,
        side=fill.side.opposite if fill.side is not None else None, order_quantity=fill.order_quantity,
        cum_quantity=fill.cum_quantity, average_price=fill.average_price, last_price=ack.last_price,
        last_quantity=ack.last_quantity)


def _settled_fill(ack: out.ExecutionAck, fills: dict[str, out.RequesterReport]) -> out.RequesterReport | None:
    """The requester's Fill report of the fill this acknowledgement settled (same transaction), if any."""
    if ack.status is not out.ExecutionAckStatus.ACCEPTED or ack.last_quantity is None:
        return None  # a refused report, or the acknowledgement of a failure: nothing was settled
    rfq_id = parse_acceptance_id(ack.quote_resp_id)
    return fills.get(f"rfq-{rfq_id}") if rfq_id is not None else None
