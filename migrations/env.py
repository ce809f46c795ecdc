"""Alembic environment for the settlement store.

The database URL comes from config.attributes["database_url"] (set by settlement.db) or the
"sqlalchemy.url" main option. SQLite gets render_as_batch=True because it cannot ALTER most things.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from app.schema import metadata as target_metadata_all

config = context.config
target_metadata = target_metadata_all


def _database_url() -> str:
    url = config.attributes.get("database_url") or config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set config.attributes['database_url'] or sqlalchemy.url")
    return str(url)


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def run_migrations_offline() -> None:
    url = _database_url()
    _configure(url=url, literal_binds=True, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def _check_sqlite_foreign_keys(connection: Connection) -> None:
    # Batch migrations rebuild tables with foreign keys off; prove nothing dangles afterwards.
    violations = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
    if violations:
        raise RuntimeError(f"foreign key violations after migration: {violations}")


def run_migrations_online() -> None:
    # A private engine without the application's pragmas: SQLite table rebuilds in batch mode
    # must run with foreign keys off, which is the sqlite3 default.
    engine = create_engine(_database_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            is_sqlite = connection.dialect.name == "sqlite"
            _configure(connection=connection, render_as_batch=is_sqlite)
            with context.begin_transaction():
                context.run_migrations()
            if is_sqlite:
                _check_sqlite_foreign_keys(connection)
            connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
