"""Money is Decimal, exact, end to end: the storable range, canonical text, rounding contexts.

Amounts are stored in NUMERIC(38, 12) on PostgreSQL and as canonical text on SQLite (db/types.py),
so a value has at most 12 fraction digits and 26 integer digits everywhere.
"""
from __future__ import annotations

from decimal import Clamped, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, Rounded

CASH_ASSET = "USDC"  # the settlement currency: cash legs, buying power, borrowing
CENT = Decimal("0.01")
# Wide enough for any product of two storable amounts (26 + 12 digits each): money arithmetic
# never rounds silently or overflows the default 28-digit context.
MONEY_CONTEXT = Context(prec=80)

MAX_FRACTION_DIGITS = 12
MAX_INTEGER_DIGITS = 26  # 38 significant digits in NUMERIC(38, 12) minus the 12 fraction digits

# Ledger sums must never round silently: the default context keeps only 28 digits,
# fewer than a NUMERIC(38, 12) value can hold. Any rounding raises instead.
EXACT_CONTEXT = Context(
    prec=80,
    traps=[Inexact, Rounded, InvalidOperation, Overflow, DivisionByZero, Clamped],
)


def canonical_decimal_text(value: Decimal) -> str:
    """Plain notation (no exponent), no trailing fraction zeros, no negative zero."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text


def canonical_decimal(value: Decimal) -> Decimal:
    """The same number with the canonical representation, e.g. Decimal('2274.350000') -> Decimal('2274.35')."""
    return Decimal(canonical_decimal_text(value))


def storable_decimal_problem(value: Decimal) -> str | None:
    """Why `value` cannot be stored exactly in a DecimalText column, or None if it can."""
    if not value.is_finite():
        return f"{value} is not a finite number"
    text = canonical_decimal_text(value).lstrip("-")
    integer_part, _, fraction_part = text.partition(".")
    if len(fraction_part) > MAX_FRACTION_DIGITS:
        return f"{value} has more than {MAX_FRACTION_DIGITS} fraction digits"
    if len(integer_part.lstrip("0")) > MAX_INTEGER_DIGITS:
        return f"{value} has more than {MAX_INTEGER_DIGITS} integer digits"
    return None


def plain(value: Decimal) -> str:
    """A decimal as people write it: 100 not 1E+2, 0.5 not 0.50."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
