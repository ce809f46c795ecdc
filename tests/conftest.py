"""Shared fixtures: a fresh database per test on SQLite and on the local PostgreSQL server."""
from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Now, utc_now
from db.engine import create_db_engine, default_sqlite_url, session_factory, upgrade_to_head
from ledger.uow import SqlUnitOfWork

POSTGRES_SERVER_URL = "postgresql+psycopg://postgres@127.0.0.1:5432"
POSTGRES_ADMIN_URL = f"{POSTGRES_SERVER_URL}/test"

DATABASE_BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.fixture(scope="session")
def postgres_admin_engine() -> Iterator[Engine]:
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    yield engine
    engine.dispose()


def _fresh_postgres_database(admin_engine: Engine) -> Iterator[str]:
    database_name = f"rfqtest_{secrets.token_hex(6)}"
    with admin_engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database_name}"'))
    try:
        yield f"{POSTGRES_SERVER_URL}/{database_name}"
    finally:
        with admin_engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{database_name}" WITH (FORCE)'))


@pytest.fixture(params=DATABASE_BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of a fresh database with no tables (not migrated)."""
    if request.param == "sqlite":
        yield default_sqlite_url(tmp_path)
    else:
        yield from _fresh_postgres_database(request.getfixturevalue("postgres_admin_engine"))


@pytest.fixture
def db_url(empty_db_url: str) -> str:
    """URL of a fresh database migrated to head (parametrised: sqlite, postgresql)."""
    upgrade_to_head(empty_db_url)
    return empty_db_url


@pytest.fixture
def db_engine(db_url: str) -> Iterator[Engine]:
    engine = create_db_engine(db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def sessions(db_engine: Engine) -> sessionmaker[Session]:
    """The test database's session factory (for adapters that build their own unit of work)."""
    return session_factory(db_engine)


@pytest.fixture
def uow_factory(db_engine: Engine) -> Callable[..., SqlUnitOfWork]:
    """`uow_factory()` or `uow_factory(clock=...)` -> a new SqlUnitOfWork on the test database."""
    factory = session_factory(db_engine)

    def make_unit_of_work(clock: Now = utc_now) -> SqlUnitOfWork:
        return SqlUnitOfWork(factory, clock=clock)

    return make_unit_of_work
