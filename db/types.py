"""Column types that keep money exact and timestamps in UTC on SQLite and PostgreSQL.

SQLite has no decimal type: a NUMERIC column would coerce values through a float and round
them, so amounts are stored as canonical plain strings instead. PostgreSQL stores NUMERIC(38, 12).
Both backends accept exactly the same values so a test on SQLite says something about production.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import DateTime, Numeric, Text
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

from core.money import MAX_FRACTION_DIGITS, canonical_decimal, canonical_decimal_text, storable_decimal_problem


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
