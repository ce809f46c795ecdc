"""The one SQLAlchemy metadata every component's tables register on, and its naming rules.

Each component owns its tables (ledger/models.py, gateway/models.py, broker/models.py, ...);
db/schema.py imports them all so Alembic compares one metadata with the migrations.
"""
from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# Deterministic constraint names: SQLite batch migrations can only drop or alter named constraints.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Append-only tables never reuse an id on SQLite (AUTOINCREMENT), so audit references stay unique.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


def one_of(column: str, values: tuple[str, ...]) -> str:
    """A CHECK constraint's text: `column` holds one of `values`."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
