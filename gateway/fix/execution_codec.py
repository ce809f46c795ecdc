"""FIX <-> domain for executions: ExecutionReport (8) both ways and
BusinessMessageReject (j). The only gateway module touching their fields."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import quickfix as fix

from core.refusal import RejectReason
from core.types import SessionName
from gateway.domain import outbound as out
from gateway.domain.commands import ExecutionOutcome, ReportExecution
from gateway.domain.rfq import RfqState
from transport.fix import tags as t
from transport.fix.errors import BadFieldValue
from transport.fix.reader import FixReader
from transport.fix.sides import SIDE_CODES
from transport.fix.writer import new_message, put

EXEC_TYPE_TRADE = "F"
EXEC_TYPE_REJECTED = "8"
EXEC_TYPE_CANCELED = "4"

# (ExecType 150, OrdStatus 39) per report kind; FILL and STATUS depend on the order's state.
REPORT_CODES = {
    out.ReportKind.NEW: ("0", "0"),
    out.ReportKind.REMAINDER_RELEASED: ("3", "3"),
    out.ReportKind.REJECTED: ("8", "8"),
    out.ReportKind.CANCELED: ("4", "4"),
    out.ReportKind.EXPIRED: ("C", "C"),
}

# OrdStatus (39) an RFQ state means to an order-entry client.
ORD_STATUS_BY_STATE = {
    RfqState.RECEIVED.value: "A", RfqState.QUOTING.value: "0", RfqState.ACCEPTED_BINDING.value: "0",
    RfqState.READY_TO_SETTLE.value: "0", RfqState.EXPIRED.value: "C", RfqState.REJECTED.value: "8",
    RfqState.CANCELED.value: "4",
}

# OrdRejReason (103) for a rejected order
ORD_REJ_REASON_CODES = {
    RejectReason.UNKNOWN_SYMBOL: 1, RejectReason.EXCHANGE_CLOSED: 2, RejectReason.INVALID_QUANTITY: 13,
    RejectReason.TOO_LATE: 4, RejectReason.DUPLICATE_ID: 6, RejectReason.INSUFFICIENT_FUNDS: 0,
    RejectReason.NOT_AUTHORIZED: 15,
}
ORD_REJ_REASON = 103
SECONDARY_EXEC_ID = 527  # on a status report: the ExecID of the fill it describes

# ExecAckStatus (1036) and DKReason (127) of an ExecutionAcknowledgement (BN)
EXEC_ACK_STATUS_CODES = {out.ExecutionAckStatus.ACCEPTED: "1", out.ExecutionAckStatus.REFUSED: "2"}
DK_REASON_CODES = {
    RejectReason.UNKNOWN_SYMBOL: "A", RejectReason.INVALID_QUANTITY: "C", RejectReason.UNKNOWN_ID: "D",
    RejectReason.WRONG_STATE: "D", RejectReason.INVALID_PRICE: "E",
}
DK_REASON_OTHER = "Z"

# BusinessRejectReason (380)
BUSINESS_REASON_CODES = {RejectReason.UNKNOWN_ID: 1, RejectReason.NOT_AUTHORIZED: 6}


def order_status_code(state: str | None, cum_quantity: Decimal, order_quantity: Decimal) -> str:
    """OrdStatus for a state: a filled RFQ is 2 when complete, 3 (done) after a partial fill."""
    if state in (RfqState.FILLED.value, RfqState.PARTIALLY_FILLED.value):
        return "2" if cum_quantity >= order_quantity else "3"
    return ORD_STATUS_BY_STATE.get(state or "", "8")


def decode_solver_report(message: fix.Message, sender: SessionName) -> ReportExecution:
    body = FixReader(message)
    exec_type = body.text(t.EXEC_TYPE)
    if exec_type == EXEC_TYPE_TRADE:
        outcome = ExecutionOutcome.FILLED
    elif exec_type in (EXEC_TYPE_REJECTED, EXEC_TYPE_CANCELED):
        outcome = ExecutionOutcome.FAILED
    else:
        raise BadFieldValue(t.EXEC_TYPE, exec_type, "F (Trade), 4 (Canceled) or 8 (Rejected)")
    return ReportExecution(
        solver=sender,
        quote_resp_id=body.identifier(t.QUOTE_RESP_ID),
        exec_id=body.identifier(t.EXEC_ID),
        outcome=outcome,
        last_price=body.optional_decimal(t.LAST_PX),
        last_quantity=body.optional_decimal(t.LAST_QTY),
        text=body.free_text(t.TEXT),
        nbbo_bid=body.optional_decimal(t.NBBO_BID_PX),
        nbbo_offer=body.optional_decimal(t.NBBO_OFFER_PX),
    )


def _codes(report: out.RequesterReport) -> tuple[str, str, Decimal]:
    """ExecType, OrdStatus and LeavesQty for a report."""
    open_quantity = report.order_quantity - report.cum_quantity
    if report.kind is out.ReportKind.FILL:
        return "F", ("2" if open_quantity <= 0 else "1"), open_quantity
    if report.kind is out.ReportKind.STATUS:
        status = order_status_code(report.status, report.cum_quantity, report.order_quantity)
        return "I", status, (open_quantity if status in ("0", "1", "A") else Decimal(0))
    exec_type, ord_status = REPORT_CODES[report.kind]
    return exec_type, ord_status, (report.order_quantity if report.kind is out.ReportKind.NEW else Decimal(0))


def encode_requester_report(report: out.RequesterReport, now: datetime) -> fix.Message:
    message = new_message("8")
    exec_type, ord_status, leaves = _codes(report)
    put(message, t.ORDER_ID, report.order_id)
    put(message, t.CL_ORD_ID, report.cl_ord_id)
    put(message, t.ORIG_CL_ORD_ID, report.orig_cl_ord_id)
    put(message, t.EXEC_ID, report.exec_id)
    put(message, SECONDARY_EXEC_ID, report.fill_exec_id)
    put(message, t.EXEC_TYPE, exec_type)
    put(message, t.ORD_STATUS, ord_status)
    if report.kind is out.ReportKind.REJECTED and report.reject_reason is not None:
        put(message, ORD_REJ_REASON, ORD_REJ_REASON_CODES.get(report.reject_reason, 99))
    put(message, t.SYMBOL, report.symbol)
    put(message, t.SIDE, SIDE_CODES[report.side] if report.side is not None else None)
    put(message, t.ORDER_QTY, report.order_quantity)
    put(message, t.LAST_QTY, report.last_quantity)
    put(message, t.LAST_PX, report.last_price)
    put(message, t.LEAVES_QTY, leaves)
    put(message, t.CUM_QTY, report.cum_quantity)
    put(message, t.AVG_PX, report.average_price if report.average_price is not None else Decimal(0))
    put(message, t.TRANSACT_TIME, now)
    put(message, t.TEXT, report.text)
    return message


def encode_execution_ack(ack: out.ExecutionAck) -> fix.Message:
    """ExecutionAcknowledgement (BN): OrderID is the acceptance's QuoteRespID the solver reported under."""
    message = new_message("BN")
    put(message, t.ORDER_ID, ack.quote_resp_id)
    put(message, t.EXEC_ACK_STATUS, EXEC_ACK_STATUS_CODES[ack.status])
    put(message, t.EXEC_ID, ack.exec_id)
    if ack.status is out.ExecutionAckStatus.REFUSED:
        put(message, t.DK_REASON, DK_REASON_CODES.get(ack.reason, DK_REASON_OTHER) if ack.reason else DK_REASON_OTHER)
    put(message, t.SYMBOL, ack.symbol)
    put(message, t.LAST_QTY, ack.last_quantity)
    put(message, t.LAST_PX, ack.last_price)
    put(message, t.TEXT, ack.text)
    return message


def encode_business_reject(reject: out.BusinessReject) -> fix.Message:
    message = new_message("j")
    put(message, t.REF_MSG_TYPE, reject.ref_msg_type)
    put(message, t.BUSINESS_REJECT_REF_ID, reject.ref_id)
    put(message, t.BUSINESS_REJECT_REASON, BUSINESS_REASON_CODES.get(reject.reason, 0))
    put(message, t.TEXT, reject.text)
    return message
