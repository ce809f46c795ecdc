"""FIX <-> domain for the quote family: QuoteRequest (R), Quote (S),
QuoteResponse (AJ), QuoteStatusReport (AI), QuoteRequestReject (AG).

The only module of the gateway that reads or writes these messages' fields.
"""
from __future__ import annotations

import quickfix as fix

from core.refusal import RejectReason
from core.types import SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.commands import AcceptQuote, CancelQuote, CancelRfq, RequestQuote, ResponseType, SubmitQuote
from gateway.domain.rfq import ExecutionMode
from transport.fix import tags as t
from transport.fix.errors import BadFieldValue, FixDecodeError
from transport.fix.reader import MAX_SYMBOL_CHARS, FixReader
from transport.fix.sides import SIDE_CODES, parse_side
from transport.fix.writer import new_group, new_message, put

RESPONSE_TYPES = {"1": ResponseType.HIT_LIFT, "6": ResponseType.PASS}
EXECUTION_MODES = {"1": ExecutionMode.AWAIT_ACCEPT, "2": ExecutionMode.IMMEDIATE}
QUOTE_CANCEL_TYPE = 298
CANCEL_ALL_QUOTES = "4"

# QuoteRequestRejectReason (658)
REJECT_REASON_CODES = {
    RejectReason.UNKNOWN_SYMBOL: 1,
    RejectReason.EXCHANGE_CLOSED: 2,
    RejectReason.INVALID_QUANTITY: 3,
    RejectReason.TOO_LATE: 4,
    RejectReason.INVALID_PRICE: 5,
    RejectReason.NOT_AUTHORIZED: 6,
}
# FIX 4.4 has no "insufficient credit" (11 arrived in FIX 5.0): buying power and duplicates are 99 + Text.
OTHER_REASON_CODE = 99

# QuoteStatus (297)
QUOTE_STATUS_CODES = {
    out.QuoteAck.ACCEPTED: 0,
    out.QuoteAck.CANCELED: 1,
    out.QuoteAck.RFQ_CANCELED: 4,
    out.QuoteAck.REJECTED: 5,
    out.QuoteAck.REMOVED: 6,
    out.QuoteAck.EXPIRED: 7,
    out.QuoteAck.NOT_FOUND: 9,
}


# -- inbound --------------------------------------------------------------------
def decode_quote_request(message: fix.Message, sender: SessionName) -> RequestQuote:
    body = FixReader(message)
    entries = body.group(t.NO_RELATED_SYM, t.SYMBOL, t.QUOTE_REQUEST_ENTRY_TAGS)
    if len(entries) != 1:
        raise FixDecodeError(t.NO_RELATED_SYM, f"exactly one instrument per QuoteRequest, got {len(entries)}")
    entry = entries[0]
    return RequestQuote(
        requester=sender,
        client_req_id=body.identifier(t.QUOTE_REQ_ID),
        symbol=entry.identifier(t.SYMBOL, MAX_SYMBOL_CHARS),
        side=parse_side(entry.text(t.SIDE)),
        quantity=entry.decimal(t.ORDER_QTY),
        limit_price=entry.optional_decimal(t.PRICE),
        mode=parse_mode(entry.optional_text(t.RFQ_EXECUTION_MODE)),
    )


def parse_mode(raw: str | None) -> ExecutionMode:
    if raw is None:
        return ExecutionMode.AWAIT_ACCEPT
    try:
        return EXECUTION_MODES[raw]
    except KeyError:
        raise BadFieldValue(t.RFQ_EXECUTION_MODE, raw, "1 (AwaitAccept) or 2 (Immediate)") from None


def decode_quote_cancel(message: fix.Message, sender: SessionName, as_solver: bool) -> CancelQuote | CancelRfq:
    """QuoteCancel (Z): a solver withdraws its quote(s); a requester withdraws its whole RFQ."""
    body = FixReader(message)
    cancel_type = body.text(QUOTE_CANCEL_TYPE)
    if as_solver:
        quote_id = None if cancel_type == CANCEL_ALL_QUOTES else body.identifier(t.QUOTE_ID)
        return CancelQuote(solver=sender, quote_req_id=body.identifier(t.QUOTE_REQ_ID), solver_quote_id=quote_id)
    client_req_id = body.optional_identifier(t.QUOTE_REQ_ID) or body.identifier(t.QUOTE_ID)
    return CancelRfq(requester=sender, client_req_id=client_req_id, cancel_id=client_req_id)


def decode_quote(message: fix.Message, sender: SessionName) -> SubmitQuote:
    body = FixReader(message)
    return SubmitQuote(
        solver=sender,
        solver_quote_id=body.identifier(t.QUOTE_ID),
        quote_req_id=body.identifier(t.QUOTE_REQ_ID),
        symbol=body.identifier(t.SYMBOL, MAX_SYMBOL_CHARS),
        bid_price=body.optional_decimal(t.BID_PX),
        offer_price=body.optional_decimal(t.OFFER_PX),
        bid_size=body.optional_decimal(t.BID_SIZE),
        offer_size=body.optional_decimal(t.OFFER_SIZE),
        valid_until=body.optional_timestamp(t.VALID_UNTIL_TIME),
    )


def decode_quote_response(message: fix.Message, sender: SessionName) -> AcceptQuote:
    body = FixReader(message)
    return AcceptQuote(
        requester=sender,
        client_resp_id=body.identifier(t.QUOTE_RESP_ID),
        quote_id=body.identifier(t.QUOTE_ID),
        response_type=RESPONSE_TYPES.get(body.text(t.QUOTE_RESP_TYPE), ResponseType.OTHER),
    )


# -- outbound -------------------------------------------------------------------
def encode_forward_request(message: out.ForwardQuoteRequest) -> fix.Message:
    fix_message = new_message("R")
    put(fix_message, t.QUOTE_REQ_ID, message.quote_req_id)
    entry = new_group(t.NO_RELATED_SYM, t.SYMBOL, t.QUOTE_REQUEST_ENTRY_TAGS)
    put(entry, t.SYMBOL, message.symbol)
    put(entry, t.SIDE, SIDE_CODES[message.side])
    put(entry, t.ORDER_QTY, message.quantity)
    put(entry, t.EXPIRE_TIME, message.expires_at)
    fix_message.addGroup(entry)
    return fix_message


def encode_reject(message: out.RejectQuoteRequest) -> fix.Message:
    fix_message = new_message("AG")
    put(fix_message, t.QUOTE_REQ_ID, message.client_req_id)
    put(fix_message, t.QUOTE_REQUEST_REJECT_REASON, REJECT_REASON_CODES.get(message.reason, OTHER_REASON_CODE))
    entry = new_group(t.NO_RELATED_SYM, t.SYMBOL, [t.SYMBOL])
    put(entry, t.SYMBOL, message.symbol or "?")
    fix_message.addGroup(entry)
    put(fix_message, t.TEXT, message.text)
    return fix_message


def encode_present_quote(message: out.PresentQuote) -> fix.Message:
    fix_message = new_message("S")
    put(fix_message, t.QUOTE_REQ_ID, message.client_req_id)
    put(fix_message, t.QUOTE_ID, message.quote_id)
    put(fix_message, t.SYMBOL, message.symbol)
    put(fix_message, t.SIDE, SIDE_CODES[message.side])
    if message.side is Side.BUY:
        put(fix_message, t.OFFER_PX, message.price)
        put(fix_message, t.OFFER_SIZE, message.size)
    else:
        put(fix_message, t.BID_PX, message.price)
        put(fix_message, t.BID_SIZE, message.size)
    put(fix_message, t.VALID_UNTIL_TIME, message.valid_until)
    return fix_message


def encode_quote_status(message: out.QuoteStatusReport) -> fix.Message:
    fix_message = new_message("AI")
    put(fix_message, t.QUOTE_REQ_ID, message.quote_req_id)
    put(fix_message, t.QUOTE_ID, message.quote_id or message.quote_req_id)
    put(fix_message, t.SYMBOL, message.symbol)
    put(fix_message, t.QUOTE_STATUS, QUOTE_STATUS_CODES[message.status])
    put(fix_message, t.TEXT, message.text)
    return fix_message


def encode_acceptance(message: out.NotifyQuoteAccepted) -> fix.Message:
    fix_message = new_message("AJ")
    put(fix_message, t.QUOTE_RESP_ID, message.quote_resp_id)
    put(fix_message, t.QUOTE_ID, message.solver_quote_id)
    put(fix_message, t.QUOTE_RESP_TYPE, 1)
    put(fix_message, t.SYMBOL, message.symbol)
    put(fix_message, t.SIDE, SIDE_CODES[message.side])
    put(fix_message, t.ORDER_QTY, message.quantity)
    put(fix_message, t.PRICE, message.price)
    put(fix_message, t.VALID_UNTIL_TIME, message.settle_by)  # report the execution before this
    put(fix_message, t.TEXT, message.quote_req_id)
    return fix_message
