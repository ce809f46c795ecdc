"""The venue's FIX boundary: the only module of venue_sim that touches FIX tags.

Inbound messages become typed commands once, here; outbound ExecutionReports (8),
OrderCancelRejects (9) and BusinessMessageRejects (j) are built from domain events here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Union

import quickfix as fix

from core.types import Side
from transport.fix.application import message_type
from transport.fix.errors import FixDecodeError, MissingField
from transport.fix.reader import FixReader, format_decimal, format_utc_timestamp
from transport.fix.sides import SIDE_CODES, SIDES
from venue_sim.events import (
    CancelRejected,
    OrderAccepted,
    OrderCanceled,
    OrderFilled,
    OrderRejected,
    RejectCode,
    VenueEvent,
)
from venue_sim.orders import OrderSnapshot, OrderState, ReceivedSide, recognised_side

# Tags (FIX 4.4 plus the project's custom NBBO fields from fix_specs/FIX44.xml).
AVG_PX, CL_ORD_ID, CUM_QTY, EXEC_ID, LAST_PX, LAST_QTY = 6, 11, 14, 17, 31, 32
MSG_TYPE, ORDER_ID, ORDER_QTY, ORD_STATUS, ORD_TYPE = 35, 37, 38, 39, 40
ORIG_CL_ORD_ID, PRICE, SIDE, SYMBOL, TEXT, TIME_IN_FORCE, TRANSACT_TIME = 41, 44, 54, 55, 58, 59, 60
CXL_REJ_REASON, ORD_REJ_REASON, EXEC_TYPE, LEAVES_QTY = 102, 103, 150, 151
BUSINESS_REJECT_REF_ID, BUSINESS_REJECT_REASON, REF_MSG_TYPE, CXL_REJ_RESPONSE_TO = 379, 380, 372, 434
MASS_STATUS_REQ_ID, MASS_STATUS_REQ_TYPE, TOT_NUM_REPORTS, LAST_RPT_REQUESTED = 584, 585, 911, 912
NBBO_BID_PX, NBBO_OFFER_PX = 5002, 5003

TIF_FROM_FIX = {"0": "day", "1": "gtc", "2": "opg", "3": "ioc", "4": "fok", "5": "gtx", "6": "gtd", "7": "cls"}
TIF_TO_FIX = {tif: code for code, tif in TIF_FROM_FIX.items()}
ORD_TYPE_FROM_FIX = {"1": "market", "2": "limit", "3": "stop", "4": "stop_limit"}
MASS_STATUS_FOR_SECURITY, MASS_STATUS_ALL = "1", "7"

ORD_STATUS_CODE = {
    OrderState.PENDING_NEW: "A", OrderState.NEW: "0", OrderState.PARTIALLY_FILLED: "1",
    OrderState.FILLED: "2", OrderState.CANCELED: "4", OrderState.REJECTED: "8",
}
ORD_REJ_REASON_CODE = {
    RejectCode.UNKNOWN_SYMBOL: "1", RejectCode.DUPLICATE_ORDER: "6", RejectCode.INVALID_QUANTITY: "13",
    RejectCode.UNSUPPORTED_ORDER_TYPE: "11", RejectCode.INVALID_TIME_IN_FORCE: "11",
    RejectCode.INVALID_SIDE: "11", RejectCode.UNKNOWN_ORDER: "5", RejectCode.EXCHANGE_CLOSED: "2",
}
CXL_REJ_REASON_CODE = {RejectCode.UNKNOWN_ORDER: "1", RejectCode.TOO_LATE_TO_CANCEL: "0"}
OTHER_REASON = "99"
EXEC_NEW, EXEC_CANCELED, EXEC_REJECTED, EXEC_TRADE, EXEC_ORDER_STATUS = "0", "4", "8", "F", "I"
NO_ORDER_ID = "NONE"


# -- inbound commands -------------------------------------------------------------------------
@dataclass(frozen=True)
class NewOrder:
    cl_ord_id: str
    symbol: str
    side: ReceivedSide  # a Side, or the raw FIX code when unsupported (the engine rejects it)
    quantity: Decimal | None
    limit_price: Decimal | None
    time_in_force: str
    order_type: str


@dataclass(frozen=True)
class UndecodableOrder:
    """A NewOrderSingle whose values could not be read; answered with a reject ER."""

    cl_ord_id: str
    symbol: str
    side: ReceivedSide
    text: str


@dataclass(frozen=True)
class CancelOrder:
    orig_cl_ord_id: str
    cl_ord_id: str


@dataclass(frozen=True)
class QueryStatus:
    cl_ord_id: str
    symbol: str
    side: ReceivedSide


@dataclass(frozen=True)
class QueryMassStatus:
    mass_status_req_id: str
    symbol: str | None  # only for "status for orders for a security"


VenueCommand = Union[NewOrder, UndecodableOrder, CancelOrder, QueryStatus, QueryMassStatus]


def decode(message: fix.Message) -> VenueCommand:
    """Raises fix.UnsupportedMessageType for anything the venue does not speak, and QuickFIX's
    FieldNotFound / IncorrectTagValue (QuickFIX answers with a session Reject) when a request
    cannot be read; a new order whose ids are readable but whose values are not becomes an
    UndecodableOrder, answered with a reject ExecutionReport."""
    kind = message_type(message)
    body = FixReader(message)
    try:
        return _decode_new_order(body) if kind == "D" else _decode_request(kind, body)
    except MissingField as error:
        raise fix.FieldNotFound(error.tag) from None
    except FixDecodeError as error:
        raise fix.IncorrectTagValue(error.tag) from None


def _decode_request(kind: str, body: FixReader) -> VenueCommand:
    if kind == "F":
        return CancelOrder(body.text(ORIG_CL_ORD_ID), body.text(CL_ORD_ID))
    if kind == "H":
        return QueryStatus(body.text(CL_ORD_ID), body.text(SYMBOL), _side(body.text(SIDE)))
    if kind == "AF":
        by_security = body.text(MASS_STATUS_REQ_TYPE) == MASS_STATUS_FOR_SECURITY
        return QueryMassStatus(body.text(MASS_STATUS_REQ_ID), body.optional_text(SYMBOL) if by_security else None)
    raise fix.UnsupportedMessageType()


def _decode_new_order(body: FixReader) -> NewOrder | UndecodableOrder:
    cl_ord_id, symbol, side = body.text(CL_ORD_ID), body.text(SYMBOL), _side(body.text(SIDE))
    try:
        raw_tif = body.optional_text(TIME_IN_FORCE) or "0"
        raw_type = body.text(ORD_TYPE)
        return NewOrder(
            cl_ord_id=cl_ord_id, symbol=symbol, side=side,
            quantity=body.optional_decimal(ORDER_QTY), limit_price=body.optional_decimal(PRICE),
            time_in_force=TIF_FROM_FIX.get(raw_tif, f"TimeInForce={raw_tif}"),
            order_type=ORD_TYPE_FROM_FIX.get(raw_type, f"OrdType={raw_type}"),
        )
    except FixDecodeError as error:
        return UndecodableOrder(cl_ord_id, symbol, side, str(error))


def _side(raw: str) -> ReceivedSide:
    # Not parse_side: an unsupported code must reach the engine, whose reject ExecutionReport echoes it,
    # rather than end as a session-level Reject.
    return SIDES.get(raw, raw)


def _side_code(side: ReceivedSide) -> str:
    """Side (54) of a report: the FIX code of a Side (or of its value), otherwise the side as received."""
    recognised = recognised_side(side)
    return SIDE_CODES[recognised] if isinstance(recognised, Side) else recognised


# -- outbound messages ------------------------------------------------------------------------
def _message(kind: str) -> fix.Message:
    message = fix.Message()
    message.getHeader().setField(MSG_TYPE, kind)
    return message


def _set(message: fix.Message, tag: int, value: str | Decimal | datetime) -> None:
    if isinstance(value, Decimal):
        text = format_decimal(value)
    elif isinstance(value, datetime):
        text = format_utc_timestamp(value)
    else:
        text = value
    message.setField(tag, text)


def _order_report(order: OrderSnapshot, exec_id: str, exec_type: str, at: datetime) -> fix.Message:
    report = _message("8")
    for tag, value in (
        (ORDER_ID, order.order_id), (CL_ORD_ID, order.cl_ord_id), (EXEC_ID, exec_id),
        (EXEC_TYPE, exec_type), (ORD_STATUS, ORD_STATUS_CODE[order.state]), (SYMBOL, order.symbol),
        (SIDE, _side_code(order.side)), (ORD_TYPE, "2"),
        (LEAVES_QTY, order.leaves_qty), (CUM_QTY, order.cum_qty), (AVG_PX, order.avg_px),
        (TRANSACT_TIME, at),
    ):
        _set(report, tag, value)
    if order.quantity > 0:
        _set(report, ORDER_QTY, order.quantity)
    if order.limit_price > 0:
        _set(report, PRICE, order.limit_price)
    if order.time_in_force in TIF_TO_FIX:
        _set(report, TIME_IN_FORCE, TIF_TO_FIX[order.time_in_force])
    return report


def encode_event(event: VenueEvent) -> fix.Message:
    if isinstance(event, OrderAccepted):
        return _order_report(event.order, event.exec_id, EXEC_NEW, event.accepted_at)
    if isinstance(event, OrderFilled):
        return encode_fill(event)
    if isinstance(event, OrderCanceled):
        report = _order_report(event.order, event.exec_id, EXEC_CANCELED, event.canceled_at)
        if event.cancel_cl_ord_id is not None:
            _set(report, CL_ORD_ID, event.cancel_cl_ord_id)
            _set(report, ORIG_CL_ORD_ID, event.order.cl_ord_id)
        _set(report, TEXT, event.reason)
        return report
    if isinstance(event, OrderRejected):
        return encode_rejected(event)
    if isinstance(event, CancelRejected):
        return encode_cancel_rejected(event)
    raise AssertionError(f"no FIX encoding for {type(event).__name__}")


def encode_fill(event: OrderFilled) -> fix.Message:
    fill = event.fill
    report = _order_report(event.order, fill.exec_id, EXEC_TRADE, fill.executed_at)
    for tag, value in ((LAST_PX, fill.last_px), (LAST_QTY, fill.last_qty), (CUM_QTY, fill.cum_qty),
                       (LEAVES_QTY, fill.leaves_qty), (AVG_PX, fill.avg_px),
                       (NBBO_BID_PX, fill.nbbo_bid), (NBBO_OFFER_PX, fill.nbbo_offer)):
        _set(report, tag, value)
    return report


def encode_rejected(event: OrderRejected) -> fix.Message:
    return encode_order_reject(event.cl_ord_id, event.symbol, event.side, event.exec_id, event.rejected_at,
                               ORD_REJ_REASON_CODE.get(event.reject.code, OTHER_REASON), event.reject.text,
                               order_id=event.order_id, quantity=event.quantity, limit_price=event.limit_price)


def encode_order_reject(cl_ord_id: str, symbol: str, side: ReceivedSide, exec_id: str, at: datetime,
                        reason_code: str, text: str, order_id: str | None = None, quantity: Decimal | None = None,
                        limit_price: Decimal | None = None) -> fix.Message:
    report = _message("8")
    for tag, value in (
        (ORDER_ID, order_id or NO_ORDER_ID), (CL_ORD_ID, cl_ord_id), (EXEC_ID, exec_id),
        (EXEC_TYPE, EXEC_REJECTED), (ORD_STATUS, "8"), (SYMBOL, symbol), (SIDE, _side_code(side)),
        (LEAVES_QTY, Decimal(0)), (CUM_QTY, Decimal(0)), (AVG_PX, Decimal(0)),
        (ORD_REJ_REASON, reason_code), (TEXT, text), (TRANSACT_TIME, at),
    ):
        _set(report, tag, value)
    if quantity is not None and quantity.is_finite():
        _set(report, ORDER_QTY, quantity)
    if limit_price is not None and limit_price.is_finite():
        _set(report, PRICE, limit_price)
    return report


def encode_undecodable(command: UndecodableOrder, exec_id: str, at: datetime) -> fix.Message:
    return encode_order_reject(command.cl_ord_id, command.symbol, command.side, exec_id, at, OTHER_REASON,
                               command.text)


def encode_cancel_rejected(event: CancelRejected) -> fix.Message:
    order = event.order
    reject = _message("9")
    for tag, value in (
        (ORDER_ID, order.order_id if order else NO_ORDER_ID), (CL_ORD_ID, event.cl_ord_id),
        (ORIG_CL_ORD_ID, event.orig_cl_ord_id), (ORD_STATUS, ORD_STATUS_CODE[order.state] if order else "8"),
        (CXL_REJ_RESPONSE_TO, "1"), (CXL_REJ_REASON, CXL_REJ_REASON_CODE.get(event.reject.code, OTHER_REASON)),
        (TEXT, event.reject.text), (TRANSACT_TIME, event.rejected_at),
    ):
        _set(reject, tag, value)
    return reject


def encode_status(order: OrderSnapshot, exec_id: str, at: datetime) -> fix.Message:
    return _order_report(order, exec_id, EXEC_ORDER_STATUS, at)


def encode_unknown_status(query: QueryStatus, exec_id: str, at: datetime) -> fix.Message:
    report = encode_order_reject(query.cl_ord_id, query.symbol, query.side, exec_id, at, "5",
                                 f"unknown order {query.cl_ord_id}")
    _set(report, EXEC_TYPE, EXEC_ORDER_STATUS)
    return report


def encode_mass_status(order: OrderSnapshot, exec_id: str, at: datetime, mass_status_req_id: str,
                       total_reports: int, is_last: bool) -> fix.Message:
    report = _order_report(order, exec_id, EXEC_ORDER_STATUS, at)
    _set(report, MASS_STATUS_REQ_ID, mass_status_req_id)
    _set(report, TOT_NUM_REPORTS, str(total_reports))
    if is_last:
        _set(report, LAST_RPT_REQUESTED, "Y")
    return report


def encode_business_reject(ref_msg_type: str, ref_id: str | None, text: str) -> fix.Message:
    reject = _message("j")
    _set(reject, REF_MSG_TYPE, ref_msg_type)
    _set(reject, BUSINESS_REJECT_REASON, "0")
    if ref_id is not None:
        _set(reject, BUSINESS_REJECT_REF_ID, ref_id)
    _set(reject, TEXT, text)
    return reject
