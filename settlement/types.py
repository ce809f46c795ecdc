"""Column types that keep money exact and timestamps in UTC on SQLite and PostgreSQL.

SQLite has no decimal type: a NUMERIC column would coerce values through a float and round
them, so amounts are stored as canonical plain strings instead. PostgreSQL stores NUMERIC(38, 12).
Both backends accept exactly the same values so a test on SQLite says something about production.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Clamped, Context, Decimal, DivisionByZero, Inexact, InvalidOperation, Overflow, Rounded
from typing import Any

from sqlalchemy import DateTime, Numeric, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

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


class DecimalText(TypeDecorator[Decimal]):
    """Exact Decimal column: TEXT holding the canonical string on SQLite, NUMERIC(38, 12) on PostgreSQL.

    Comparisons and arithmetic belong in Python: on SQLite the column is text, so SQL-side
    ordering or SUM() would be lexicographic or float-based.
    """

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(Numeric(38, MAX_FRACTION_DIGITS, asdecimal=True))
        return dialect.type_descriptor(Text())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"refusing float {value!r} for an exact decimal column; use decimal.Decimal")
        if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
            raise TypeError(f"expected decimal.Decimal, got {type(value).__name__}")
        number = Decimal(value)
        problem = storable_decimal_problem(number)
        if problem is not None:
            raise ValueError(problem)
        if dialect.name == "postgresql":
            return canonical_decimal(number)
        return canonical_decimal_text(number)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError(f"database returned float {value!r} for an exact decimal column")
        return canonical_decimal(Decimal(value))


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend.

    SQLite drops tzinfo, so values are stored as naive UTC and marked UTC again on read.
    Naive datetimes are refused on bind: their meaning depends on the host clock.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"refusing naive datetime {value!r}; pass a timezone-aware UTC datetime")
        in_utc = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return in_utc.replace(tzinfo=None)
        return in_utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)
