"""Engines, sessions and schema migrations for the settlement store (SQLite or PostgreSQL)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import structlog
from alembic import command
from alembic.config import Config
from sqlalchemy import CursorResult, Engine, Result, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

log = structlog.get_logger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
SQLITE_FILE_NAME = "rfq.sqlite3"
SQLITE_BUSY_TIMEOUT_S = 15.0
POSTGRES_POOL_SIZE = 5
POSTGRES_MAX_OVERFLOW = 5


def default_sqlite_url(data_dir: Path) -> str:
    return f"sqlite+pysqlite:///{(data_dir / SQLITE_FILE_NAME).resolve()}"


def create_db_engine(url: str) -> Engine:
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _create_sqlite_engine(url)
    if backend == "postgresql":
        return create_engine(
            url,
            pool_size=POSTGRES_POOL_SIZE,
            max_overflow=POSTGRES_MAX_OVERFLOW,
            pool_pre_ping=True,
        )
    raise ValueError(f"unsupported database backend {backend!r}; use sqlite or postgresql")


def _is_sqlite_memory(url: str) -> bool:
    database = make_url(url).database
    return database in (None, "", ":memory:")


def _ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file but not its directory; a fresh data_dir would fail to open."""
    if make_url(url).get_backend_name() == "sqlite" and not _is_sqlite_memory(url):
        database = make_url(url).database
        assert database is not None
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _create_sqlite_engine(url: str) -> Engine:
    in_memory = _is_sqlite_memory(url)
    _ensure_sqlite_directory(url)
    extra: dict[str, Any] = {"poolclass": StaticPool} if in_memory else {}
    engine = create_engine(
        url,
        connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
        **extra,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from pysqlite: it would not BEGIN before SELECTs,
        # which breaks the read-check-write sequences of the ledger.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
            if not in_memory:
                cursor.execute("PRAGMA journal_mode=WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front: SQLite has no SELECT ... FOR UPDATE, so this
        # is what serialises concurrent balance checks (at the cost of serialising all writers).
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: Engine) -> sessionmaker[Session]:
    # Objects stay readable after commit; ledger results are immutable views anyway.
    return sessionmaker(bind=engine, expire_on_commit=False)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser interpolates '%', which may appear in URL-encoded passwords.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["database_url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    log.info("schema_upgrade", target="head", backend=make_url(url).get_backend_name())
    _ensure_sqlite_directory(url)
    command.upgrade(alembic_config(url), "head")


def downgrade_to(url: str, revision: str) -> None:
    log.info("schema_downgrade", target=revision, backend=make_url(url).get_backend_name())
    command.downgrade(alembic_config(url), revision)


def affected_rows(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched (the cursor's rowcount, which a plain Result does not declare)."""
    return int(cast(CursorResult[Any], result).rowcount)
