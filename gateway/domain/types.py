"""The requester's cash rounding, in the requester's favour.

Identifiers and Side are core's (core/types.py), reject reasons core/refusal.py's, CENT and the
wide money context core/money.py's."""
from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from core.money import CENT, MONEY_CONTEXT
from core.types import Side


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
