"""FIX <-> connector values, for both of the connector's sessions (gateway and
venue). The only broker module that touches FIX fields."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

import quickfix as fix

from broker.messages import (
    CancelOrder,
    ExecType,
    ExecutionToReport,
    MassStatusQuery,
    OrderToSend,
    OrdStatus,
    QuoteStatusNotice,
    QuoteToSend,
    QuoteWon,
    RfqOffered,
    SettlementAcknowledged,
    StatusQuery,
    VenueExecution,
)
from transport.fix import tags as t
from transport.fix.reader import FixReader
from transport.fix.sides import SIDE_CODES, parse_side
from transport.fix.writer import new_message, put

TIME_IN_FORCE_CODES = {"day": "0", "ioc": "3"}  # TimeInForce (59) for OrderToSend.time_in_force


def decode_rfq(message: fix.Message) -> RfqOffered:
    body = FixReader(message)
    entry = body.group(t.NO_RELATED_SYM, t.SYMBOL, t.QUOTE_REQUEST_ENTRY_TAGS)[0]
    return RfqOffered(
        quote_req_id=body.text(t.QUOTE_REQ_ID), symbol=entry.text(t.SYMBOL), side=parse_side(entry.text(t.SIDE)),
        quantity=entry.decimal(t.ORDER_QTY), expires_at=entry.optional_timestamp(t.EXPIRE_TIME),
    )


def decode_acceptance(message: fix.Message) -> QuoteWon:
    body = FixReader(message)
    return QuoteWon(
        quote_resp_id=body.text(t.QUOTE_RESP_ID), quote_id=body.text(t.QUOTE_ID), symbol=body.text(t.SYMBOL),
        side=parse_side(body.text(t.SIDE)), quantity=body.decimal(t.ORDER_QTY), price=body.decimal(t.PRICE),
        settle_by=body.optional_timestamp(t.VALID_UNTIL_TIME),
    )


EXEC_ACK_ACCEPTED = "1"


def decode_execution_ack(message: fix.Message) -> SettlementAcknowledged:
    body = FixReader(message)
    return SettlementAcknowledged(exec_id=body.text(t.EXEC_ID),
                                  accepted=body.text(t.EXEC_ACK_STATUS) == EXEC_ACK_ACCEPTED,
                                  text=body.free_text(t.TEXT))


def decode_quote_status(message: fix.Message) -> QuoteStatusNotice:
    body = FixReader(message)
    return QuoteStatusNotice(quote_req_id=body.optional_text(t.QUOTE_REQ_ID) or "",
                             quote_id=body.optional_text(t.QUOTE_ID), status=body.text(t.QUOTE_STATUS),
                             text=body.free_text(t.TEXT))


def decode_venue_report(message: fix.Message) -> VenueExecution:
    body = FixReader(message)
    return VenueExecution(
        # A cancel confirmation names the cancel request in 11 and the order itself in 41.
        cl_ord_id=body.optional_text(t.ORIG_CL_ORD_ID) or body.text(t.CL_ORD_ID),
        exec_id=body.text(t.EXEC_ID), exec_type=body.text(t.EXEC_TYPE),
        ord_status=body.text(t.ORD_STATUS), last_price=body.optional_decimal(t.LAST_PX),
        last_quantity=body.optional_decimal(t.LAST_QTY), cum_quantity=body.decimal(t.CUM_QTY),
        average_price=body.optional_decimal(t.AVG_PX), nbbo_bid=body.optional_decimal(t.NBBO_BID_PX),
        nbbo_offer=body.optional_decimal(t.NBBO_OFFER_PX), text=body.free_text(t.TEXT),
        order_id=body.optional_text(t.ORDER_ID), transact_time=body.optional_timestamp(t.TRANSACT_TIME),
        last_report=body.optional_text(t.LAST_RPT_REQUESTED) == "Y" and body.has(t.MASS_STATUS_REQ_ID),
        reject_reason=body.optional_text(t.ORD_REJ_REASON),
        msg_seq_num=int(message.getHeader().getField(34)),
    )


def encode_quote(quote: QuoteToSend) -> fix.Message:
    message = new_message("S")
    put(message, t.QUOTE_REQ_ID, quote.quote_req_id)
    put(message, t.QUOTE_ID, quote.quote_id)
    put(message, t.SYMBOL, quote.symbol)
    put(message, t.BID_PX, quote.bid)
    put(message, t.OFFER_PX, quote.ask)
    put(message, t.BID_SIZE, quote.size)
    put(message, t.OFFER_SIZE, quote.size)
    put(message, t.VALID_UNTIL_TIME, quote.valid_until)
    return message


def encode_order(order: OrderToSend) -> fix.Message:
    message = new_message("D")
    put(message, t.CL_ORD_ID, order.cl_ord_id)
    put(message, t.SYMBOL, order.symbol)
    put(message, t.SIDE, SIDE_CODES[order.side])
    put(message, t.TRANSACT_TIME, order.sent_at)
    put(message, t.ORDER_QTY, order.quantity)
    put(message, t.ORD_TYPE, "2")  # limit
    put(message, t.PRICE, order.limit_price)
    put(message, t.TIME_IN_FORCE, TIME_IN_FORCE_CODES[order.time_in_force])
    return message


def encode_status_query(query: StatusQuery) -> fix.Message:
    message = new_message("H")
    put(message, t.CL_ORD_ID, query.cl_ord_id)
    put(message, t.SYMBOL, query.symbol)
    put(message, t.SIDE, SIDE_CODES[query.side])
    return message


def encode_cancel(cancel: CancelOrder) -> fix.Message:
    message = new_message("F")
    put(message, t.ORIG_CL_ORD_ID, cancel.orig_cl_ord_id)
    put(message, t.CL_ORD_ID, cancel.cancel_id)
    put(message, t.SYMBOL, cancel.symbol)
    put(message, t.SIDE, SIDE_CODES[cancel.side])
    put(message, t.TRANSACT_TIME, cancel.sent_at)
    put(message, t.ORDER_QTY, cancel.quantity)
    return message


def encode_mass_status(query: MassStatusQuery) -> fix.Message:
    message = new_message("AF")
    put(message, t.MASS_STATUS_REQ_ID, query.request_id)
    put(message, t.MASS_STATUS_REQ_TYPE, 7)  # all orders of this session
    return message


def encode_execution(report: ExecutionToReport, order_id: str, now: datetime) -> fix.Message:
    message = new_message("8")
    put(message, t.ORDER_ID, order_id)
    put(message, t.QUOTE_RESP_ID, report.quote_resp_id)
    put(message, t.EXEC_ID, report.exec_id)
    put(message, t.EXEC_TYPE, ExecType.TRADE if report.filled else ExecType.REJECTED)
    put(message, t.ORD_STATUS, OrdStatus.FILLED if report.filled else OrdStatus.REJECTED)
    put(message, t.SYMBOL, report.symbol)
    put(message, t.SIDE, SIDE_CODES[report.side])
    put(message, t.LAST_QTY, report.last_quantity)
    put(message, t.LAST_PX, report.last_price)
    put(message, t.LEAVES_QTY, Decimal(0))
    put(message, t.CUM_QTY, report.last_quantity or Decimal(0))
    put(message, t.AVG_PX, report.last_price or Decimal(0))
    put(message, t.TRANSACT_TIME, now)
    put(message, t.TEXT, report.text)
    put(message, t.NBBO_BID_PX, report.nbbo_bid)
    put(message, t.NBBO_OFFER_PX, report.nbbo_offer)
    return message
