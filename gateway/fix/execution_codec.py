"""FIX <-> domain for executions: ExecutionReport (8) both ways and
BusinessMessageReject (j). The only gateway module touching their fields."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import quickfix as fix

from fixio import tags as t
from fixio.errors import BadFieldValue
from fixio.reader import FixReader
from fixio.writer import new_message, put
from gateway.domain import outbound as out
from gateway.domain.commands import ExecutionOutcome, ReportExecution
from gateway.domain.types import RejectReason, SessionName
from gateway.fix.quote_codec import SIDE_CODES

EXEC_TYPE_TRADE = "F"
EXEC_TYPE_REJECTED = "8"
EXEC_TYPE_CANCELED = "4"

# (ExecType 150, OrdStatus 39) per report kind; FILL's status depends on quantity.
REPORT_CODES = {
    out.ReportKind.NEW: ("0", "0"),
    out.ReportKind.REMAINDER_RELEASED: ("3", "3"),
    out.ReportKind.REJECTED: ("8", "8"),
}

# BusinessRejectReason (380)
BUSINESS_REASON_CODES = {RejectReason.UNKNOWN_ID: 1, RejectReason.NOT_AUTHORIZED: 6}


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
        quote_resp_id=body.text(t.QUOTE_RESP_ID),
        exec_id=body.text(t.EXEC_ID),
        outcome=outcome,
        last_price=body.optional_decimal(t.LAST_PX),
        last_quantity=body.optional_decimal(t.LAST_QTY),
        text=body.optional_text(t.TEXT),
    )


def encode_requester_report(report: out.RequesterReport, now: datetime) -> fix.Message:
    message = new_message("8")
    if report.kind is out.ReportKind.FILL:
        filled_all = report.cum_quantity >= report.order_quantity
        exec_type, ord_status = "F", ("2" if filled_all else "1")
        leaves = report.order_quantity - report.cum_quantity
    else:
        exec_type, ord_status = REPORT_CODES[report.kind]
        leaves = report.order_quantity if report.kind is out.ReportKind.NEW else Decimal(0)
    put(message, t.ORDER_ID, report.order_id)
    put(message, t.CL_ORD_ID, report.cl_ord_id)
    put(message, t.EXEC_ID, report.exec_id)
    put(message, t.EXEC_TYPE, exec_type)
    put(message, t.ORD_STATUS, ord_status)
    put(message, t.SYMBOL, report.symbol)
    put(message, t.SIDE, SIDE_CODES[report.side])
    put(message, t.ORDER_QTY, report.order_quantity)
    put(message, t.LAST_QTY, report.last_quantity)
    put(message, t.LAST_PX, report.last_price)
    put(message, t.LEAVES_QTY, leaves)
    put(message, t.CUM_QTY, report.cum_quantity)
    put(message, t.AVG_PX, report.average_price if report.average_price is not None else Decimal(0))
    put(message, t.QUOTE_RESP_ID, report.cl_ord_id)
    put(message, t.TRANSACT_TIME, now)
    put(message, t.TEXT, report.text)
    return message


def encode_business_reject(reject: out.BusinessReject) -> fix.Message:
    message = new_message("j")
    put(message, t.REF_MSG_TYPE, reject.ref_msg_type)
    put(message, t.BUSINESS_REJECT_REF_ID, reject.ref_id)
    put(message, t.BUSINESS_REJECT_REASON, BUSINESS_REASON_CODES.get(reject.reason, 0))
    put(message, t.TEXT, reject.text)
    return message
