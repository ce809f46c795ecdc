"""Value types of the RFQ domain: reject reasons and the requester's cash rounding.

Identifiers and Side are core's (core/types.py); CENT and the wide money context core/money.py's."""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext
from enum import StrEnum

from core.money import CENT, MONEY_CONTEXT
from core.types import Side


class RejectReason(StrEnum):
    """Why an RFQ or an action on it was refused (mapped to FIX 658 / 380 at the boundary)."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    EXCHANGE_CLOSED = "exchange_closed"
    INVALID_QUANTITY = "invalid_quantity"
    TOO_LATE = "too_late"
    INVALID_PRICE = "invalid_price"
    NOT_AUTHORIZED = "not_authorized"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_ID = "unknown_id"
    DUPLICATE_ID = "duplicate_id"
    WRONG_STATE = "wrong_state"
    THROTTLED = "throttled"  # a limit of the session was reached (rate, queue, open RFQs)
    OTHER = "other"


def cash_paid_by_requester(price: Decimal, quantity: Decimal) -> Decimal:
    """Cash a buying requester pays: rounded down to the cent, in the requester's favour."""
    with localcontext(MONEY_CONTEXT):
        return (price * quantity).quantize(CENT, rounding=ROUND_FLOOR)


def cash_received_by_requester(price: Decimal, quantity: Decimal) -> Decimal:
    """Cash a selling requester receives: rounded up to the cent, in the requester's favour."""
    with localcontext(MONEY_CONTEXT):
        return (price * quantity).quantize(CENT, rounding=ROUND_CEILING)


def requester_cash_amount(side: Side, price: Decimal, quantity: Decimal) -> Decimal:
    if side is Side.BUY:
        return cash_paid_by_requester(price, quantity)
    return cash_received_by_requester(price, quantity)
