"""FIX <-> domain for institutional order entry: NewOrderSingle (D),
OrderCancelRequest (F), OrderStatusRequest (H), and OrderCancelReject (9).
Orders enter as Immediate RFQs bounded by their limit price."""
from __future__ import annotations

import quickfix as fix

from core.types import SessionName
from gateway.domain import outbound as out
from gateway.domain.commands import CancelRfq, QueryOrder, RequestQuote
from gateway.domain.rfq import ExecutionMode, RfqOrigin
from transport.fix import tags as t
from transport.fix.errors import BadFieldValue
from transport.fix.reader import MAX_SYMBOL_CHARS, FixReader
from transport.fix.sides import parse_side
from transport.fix.writer import new_message, put

ORD_TYPE_LIMIT = "2"
TIME_IN_FORCE_DAY = "0"
CXL_REJ_REASON = 102
CXL_REJ_RESPONSE_TO = 434
TOO_LATE_TO_CANCEL, UNKNOWN_ORDER = 0, 1


def decode_new_order(message: fix.Message, sender: SessionName) -> RequestQuote:
    body = FixReader(message)
    ord_type = body.text(t.ORD_TYPE)
    if ord_type != ORD_TYPE_LIMIT:
        raise BadFieldValue(t.ORD_TYPE, ord_type, "2 (Limit): orders enter as RFQs bounded by their limit")
    return RequestQuote(
        requester=sender, client_req_id=body.identifier(t.CL_ORD_ID),
        symbol=body.identifier(t.SYMBOL, MAX_SYMBOL_CHARS),
        side=parse_side(body.text(t.SIDE)), quantity=body.decimal(t.ORDER_QTY), limit_price=body.decimal(t.PRICE),
        mode=ExecutionMode.IMMEDIATE, origin=RfqOrigin.ORDER,
    )


def decode_cancel_request(message: fix.Message, sender: SessionName) -> CancelRfq:
    body = FixReader(message)
    return CancelRfq(requester=sender, client_req_id=body.identifier(t.ORIG_CL_ORD_ID),
                     cancel_id=body.identifier(t.CL_ORD_ID),
                     order_cancel=True)


def decode_status_request(message: fix.Message, sender: SessionName) -> QueryOrder:
    body = FixReader(message)
    return QueryOrder(requester=sender, cl_ord_id=body.identifier(t.CL_ORD_ID),
                      symbol=body.identifier(t.SYMBOL, MAX_SYMBOL_CHARS),
                      side=parse_side(body.text(t.SIDE)))


def encode_cancel_reject(reject: out.OrderCancelReject, ord_status: str) -> fix.Message:
    message = new_message("9")
    put(message, t.ORDER_ID, reject.order_id)
    put(message, t.CL_ORD_ID, reject.cl_ord_id)
    put(message, t.ORIG_CL_ORD_ID, reject.orig_cl_ord_id)
    put(message, t.ORD_STATUS, ord_status)
    put(message, CXL_REJ_RESPONSE_TO, 1)
    put(message, CXL_REJ_REASON, TOO_LATE_TO_CANCEL if reject.too_late else UNKNOWN_ORDER)
    put(message, t.TEXT, reject.text)
    return message
