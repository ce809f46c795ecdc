"""DecimalText and UtcDateTime round-trips on SQLite and PostgreSQL."""
from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select, text
from sqlalchemy.exc import StatementError

from core.money import canonical_decimal_text, storable_decimal_problem
from db.engine import create_db_engine
from db.types import DecimalText, UtcDateTime

probe_metadata = MetaData()
probe = Table(
    "probe",
    probe_metadata,
    Column("id", Integer, primary_key=True),
    Column("amount", DecimalText()),
    Column("at", UtcDateTime()),
)

EXACT_VALUES = [
    "2274.35",
    "0.1",
    "0.3",
    "0.000000000001",
    "-42.5",
    "100",
    "12345678901234567890123456.123456789012",
    "0",
]


@pytest.fixture
def probe_engine(empty_db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(empty_db_url)
    probe_metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(
    ("given", "canonical"),
    [("1E+2", "100"), ("2274.350", "2274.35"), ("-0.000", "0"), ("1E-12", "0.000000000001"), ("5.", "5")],
)
def test_canonical_text_is_plain_and_minimal(given: str, canonical: str) -> None:
    assert canonical_decimal_text(Decimal(given)) == canonical


def test_storable_bounds_match_numeric_38_12() -> None:
    assert storable_decimal_problem(Decimal("0.000000000001")) is None
    assert storable_decimal_problem(Decimal("0.0000000000001")) is not None
    assert storable_decimal_problem(Decimal("9" * 26)) is None
    assert storable_decimal_problem(Decimal("9" * 27)) is not None
    assert storable_decimal_problem(Decimal("NaN")) is not None


def test_decimals_round_trip_exactly(probe_engine: Engine) -> None:
    with probe_engine.begin() as connection:
        for row_id, value in enumerate(EXACT_VALUES):
            connection.execute(insert(probe).values(id=row_id, amount=Decimal(value)))
    with probe_engine.connect() as connection:
        stored = {row.id: row.amount for row in connection.execute(select(probe.c.id, probe.c.amount))}
    for row_id, value in enumerate(EXACT_VALUES):
        assert isinstance(stored[row_id], Decimal)
        assert stored[row_id] == Decimal(value)
        assert canonical_decimal_text(stored[row_id]) == value


def test_sqlite_keeps_amounts_as_canonical_text(probe_engine: Engine) -> None:
    if probe_engine.dialect.name != "sqlite":
        assert probe_engine.dialect.name == "postgresql"
        with probe_engine.connect() as connection:
            column_type = connection.execute(
                text("SELECT data_type, numeric_precision, numeric_scale FROM information_schema.columns "
                     "WHERE table_name = 'probe' AND column_name = 'amount'")
            ).one()
        assert tuple(column_type) == ("numeric", 38, 12)
        return
    with probe_engine.begin() as connection:
        connection.execute(insert(probe).values(id=1, amount=Decimal("2274.350")))
        raw = connection.execute(text("SELECT typeof(amount), amount FROM probe")).one()
    assert tuple(raw) == ("text", "2274.35")


def test_floats_and_inexact_values_are_refused(probe_engine: Engine) -> None:
    with pytest.raises(TypeError):
        DecimalText().process_bind_param(0.1, probe_engine.dialect)
    for bad_value, expected in [(0.1, TypeError), ("1.5", TypeError), (Decimal("0.0000000000001"), ValueError)]:
        with probe_engine.begin() as connection, pytest.raises(StatementError) as refused:
            connection.execute(insert(probe).values(id=1, amount=bad_value))
        assert isinstance(refused.value.orig, expected)
    with probe_engine.connect() as connection:
        assert connection.execute(select(probe.c.id)).all() == []


def test_datetimes_come_back_aware_utc(probe_engine: Engine) -> None:
    new_york_winter = timezone(timedelta(hours=-5))
    local = datetime(2026, 1, 2, 10, 30, 0, 123456, tzinfo=new_york_winter)
    with probe_engine.begin() as connection:
        connection.execute(insert(probe).values(id=1, at=local))
    with probe_engine.connect() as connection:
        stored = connection.execute(select(probe.c.at)).scalar_one()
    assert stored == local
    assert stored.tzinfo == timezone.utc
    assert stored.hour == 15 and stored.microsecond == 123456


def test_naive_datetimes_are_refused(probe_engine: Engine) -> None:
    with probe_engine.begin() as connection, pytest.raises(StatementError) as refused:
        connection.execute(insert(probe).values(id=1, at=datetime(2026, 1, 2, 10, 30)))
    assert isinstance(refused.value.orig, ValueError)
