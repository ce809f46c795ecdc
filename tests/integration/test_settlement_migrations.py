"""Alembic migrations: upgrade/downgrade cycles and agreement with the ORM models."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, MetaData, String, create_engine, insert, inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import NullPool

from app.schema import metadata
from db.base import Base
from db.engine import MIGRATIONS_DIR, alembic_config, downgrade_to, upgrade_to_head
from ledger.models import JournalLine

SCHEMA_TABLES = set(metadata.tables)
HEAD = ScriptDirectory.from_config(alembic_config("sqlite://")).get_current_head()


def _tables_and_revision(url: str) -> tuple[set[str], str | None]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names()) - {"alembic_version"}
            revision = MigrationContext.configure(connection).get_current_revision()
        return tables, revision
    finally:
        engine.dispose()


def _schema_differences(url: str, metadata: MetaData) -> list[Any]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def test_single_linear_history_from_0001() -> None:
    script = ScriptDirectory.from_config(alembic_config("sqlite://"))
    assert script.get_heads() == [HEAD]
    assert [revision.revision for revision in script.walk_revisions()][-1] == "0001"
    assert (MIGRATIONS_DIR / "versions" / "0001_initial_schema.py").is_file()


def test_upgrade_downgrade_upgrade(empty_db_url: str) -> None:
    assert _tables_and_revision(empty_db_url) == (set(), None)
    upgrade_to_head(empty_db_url)
    assert _tables_and_revision(empty_db_url) == (SCHEMA_TABLES, HEAD)
    downgrade_to(empty_db_url, "base")
    assert _tables_and_revision(empty_db_url) == (set(), None)
    upgrade_to_head(empty_db_url)
    assert _tables_and_revision(empty_db_url) == (SCHEMA_TABLES, HEAD)


def test_models_match_migrations(db_url: str) -> None:
    assert _schema_differences(db_url, metadata) == []


def test_model_comparison_detects_drift(db_url: str) -> None:
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(drifted)
    drifted.tables["holds"].append_column(Column("note", String(32), nullable=True))
    differences = _schema_differences(db_url, drifted)
    assert [(diff[0], diff[3].name) for diff in differences] == [("add_column", "note")]


def test_foreign_keys_are_enforced(db_engine: Engine) -> None:
    orphan_line = insert(JournalLine).values(
        entry_id=999, account_id=999, asset="USD", bucket="available", amount=Decimal("1")
    )
    with pytest.raises(IntegrityError), db_engine.begin() as connection:
        connection.execute(orphan_line)
