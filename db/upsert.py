"""Many rows in one statement: INSERT ... ON CONFLICT (key) DO UPDATE on SQLite and PostgreSQL.

The engine writes every RFQ and quote it changed as plain values (no ORM objects, no SELECT
before the write, no flush per row): one executemany per table per command. The statement is
built once per table, column set and dialect (building it costs more than running it).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session
from sqlalchemy.sql.dml import Insert

MAX_CACHED_STATEMENTS = 64  # a handful of tables and column sets; a bound all the same
_STATEMENTS: dict[tuple[str, str, tuple[str, ...], tuple[str, ...]], Insert] = {}


def table_of(model: type[Any]) -> Table:
    """A mapped class's table (typed: `__table__` is a FromClause to the type checker)."""
    return cast(Table, model.__table__)


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], key: Sequence[str]) -> None:
    """Insert each row, or update every non-key column of the row already there."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    cache_key = (dialect, table.name, tuple(rows[0]), tuple(key))
    statement = _STATEMENTS.get(cache_key)
    if statement is None:
        insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
        updates = {column: insert.excluded[column] for column in rows[0] if column not in key}
        statement = insert.on_conflict_do_update(index_elements=list(key), set_=updates)
        if len(_STATEMENTS) < MAX_CACHED_STATEMENTS:
            _STATEMENTS[cache_key] = statement
    session.execute(statement, list(rows))
