"""initial schema: ledger, holds, RFQ records and the domain event outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-20

Column types are spelled out here instead of importing settlement.types so this revision
keeps describing the same schema whatever happens to the application code later:
exact decimals are TEXT on SQLite (canonical strings) and NUMERIC(38, 12) on PostgreSQL.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine[object]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _create_ledger_accounts() -> None:
    op.create_table(
        "ledger_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=64), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("available", _decimal(), nullable=False),
        sa.Column("locked", _decimal(), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_accounts"),
        sa.UniqueConstraint("owner", "asset", name="uq_ledger_accounts_owner_asset"),
        sqlite_autoincrement=True,
    )


def _create_journal_entries() -> None:
    op.create_table(
        "journal_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("rfq_id", sa.Integer(), nullable=True),
        sa.Column("hold_id", sa.String(length=64), nullable=True),
        sa.Column("description", sa.String(length=256), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('deposit', 'lock', 'post', 'void', 'transfer')", name="ck_journal_entries_kind"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_journal_entries"),
        sa.UniqueConstraint("idempotency_key", name="uq_journal_entries_idempotency_key"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_journal_entries_rfq_id", "journal_entries", ["rfq_id"])


def _create_journal_lines() -> None:
    op.create_table(
        "journal_lines",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("bucket", sa.String(length=16), nullable=False),
        sa.Column("amount", _decimal(), nullable=False),
        sa.CheckConstraint("bucket IN ('available', 'locked')", name="ck_journal_lines_bucket"),
        sa.ForeignKeyConstraint(
            ["account_id"], ["ledger_accounts.id"], name="fk_journal_lines_account_id_ledger_accounts"
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"], ["journal_entries.id"], name="fk_journal_lines_entry_id_journal_entries"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_journal_lines"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_journal_lines_account_id", "journal_lines", ["account_id"])
    op.create_index("ix_journal_lines_entry_id", "journal_lines", ["entry_id"])


def _create_holds() -> None:
    op.create_table(
        "holds",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("rfq_id", sa.Integer(), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("amount", _decimal(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("posted_amount", _decimal(), nullable=True),
        sa.Column("released_amount", _decimal(), nullable=True),
        sa.Column("beneficiary_account_id", sa.Integer(), nullable=True),
        sa.Column("expires_at", _timestamp(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("resolved_at", _timestamp(), nullable=True),
        sa.Column("lock_entry_id", sa.Integer(), nullable=False),
        sa.Column("resolve_entry_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'posted', 'voided')", name="ck_holds_status"),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_accounts.id"], name="fk_holds_account_id_ledger_accounts"),
        sa.ForeignKeyConstraint(
            ["beneficiary_account_id"],
            ["ledger_accounts.id"],
            name="fk_holds_beneficiary_account_id_ledger_accounts",
        ),
        sa.ForeignKeyConstraint(
            ["lock_entry_id"], ["journal_entries.id"], name="fk_holds_lock_entry_id_journal_entries"
        ),
        sa.ForeignKeyConstraint(
            ["resolve_entry_id"], ["journal_entries.id"], name="fk_holds_resolve_entry_id_journal_entries"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_holds"),
    )
    op.create_index("ix_holds_account_id_status", "holds", ["account_id", "status"])
    op.create_index("ix_holds_expires_at", "holds", ["expires_at"])
    op.create_index("ix_holds_rfq_id", "holds", ["rfq_id"])


def _create_rfqs() -> None:
    op.create_table(
        "rfqs",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("requester_session", sa.String(length=64), nullable=False),
        sa.Column("requester_account", sa.String(length=64), nullable=False),
        sa.Column("client_req_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("limit_price", _decimal(), nullable=True),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.Column("submission_deadline", _timestamp(), nullable=False),
        sa.Column("acceptance_deadline", _timestamp(), nullable=False),
        sa.Column("accepted_quote_id", sa.String(length=64), nullable=True),
        sa.Column("client_resp_id", sa.String(length=64), nullable=True),
        sa.Column("filled_quantity", _decimal(), nullable=False),
        sa.Column("average_price", _decimal(), nullable=True),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.CheckConstraint("side IN ('buy', 'sell')", name="ck_rfqs_side"),
        sa.PrimaryKeyConstraint("id", name="pk_rfqs"),
        sa.UniqueConstraint(
            "requester_session", "client_req_id", name="uq_rfqs_requester_session_client_req_id"
        ),
    )


def _create_quotes() -> None:
    op.create_table(
        "quotes",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("rfq_id", sa.Integer(), nullable=False),
        sa.Column("solver_session", sa.String(length=64), nullable=False),
        sa.Column("solver_account", sa.String(length=64), nullable=False),
        sa.Column("solver_quote_id", sa.String(length=64), nullable=False),
        sa.Column("bid_price", _decimal(), nullable=True),
        sa.Column("offer_price", _decimal(), nullable=True),
        sa.Column("bid_size", _decimal(), nullable=True),
        sa.Column("offer_size", _decimal(), nullable=True),
        sa.Column("valid_until", _timestamp(), nullable=True),
        sa.Column("received_at", _timestamp(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["rfq_id"], ["rfqs.id"], name="fk_quotes_rfq_id_rfqs"),
        sa.PrimaryKeyConstraint("id", name="pk_quotes"),
        sa.UniqueConstraint(
            "rfq_id",
            "solver_session",
            "solver_quote_id",
            name="uq_quotes_rfq_id_solver_session_solver_quote_id",
        ),
    )


def _create_fills() -> None:
    op.create_table(
        "fills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rfq_id", sa.Integer(), nullable=False),
        sa.Column("quote_id", sa.String(length=64), nullable=False),
        sa.Column("exec_id", sa.String(length=64), nullable=False),
        sa.Column("last_price", _decimal(), nullable=False),
        sa.Column("last_quantity", _decimal(), nullable=False),
        sa.Column("nbbo_bid", _decimal(), nullable=True),
        sa.Column("nbbo_offer", _decimal(), nullable=True),
        sa.Column("created_at", _timestamp(), nullable=False),
        sa.ForeignKeyConstraint(["quote_id"], ["quotes.id"], name="fk_fills_quote_id_quotes"),
        sa.ForeignKeyConstraint(["rfq_id"], ["rfqs.id"], name="fk_fills_rfq_id_rfqs"),
        sa.PrimaryKeyConstraint("id", name="pk_fills"),
        sa.UniqueConstraint("rfq_id", "exec_id", name="uq_fills_rfq_id_exec_id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_fills_quote_id", "fills", ["quote_id"])


def _create_domain_events() -> None:
    op.create_table(
        "domain_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rfq_id", sa.Integer(), nullable=True),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("occurred_at", _timestamp(), nullable=False),
        sa.Column("published_at", _timestamp(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_domain_events"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_domain_events_published_at", "domain_events", ["published_at"])


def upgrade() -> None:
    _create_ledger_accounts()
    _create_journal_entries()
    _create_journal_lines()
    _create_holds()
    _create_rfqs()
    _create_quotes()
    _create_fills()
    _create_domain_events()


def downgrade() -> None:
    # Reverse dependency order; dropping a table drops its indexes too.
    for table_name in (
        "domain_events",
        "fills",
        "quotes",
        "rfqs",
        "holds",
        "journal_lines",
        "journal_entries",
        "ledger_accounts",
    ):
        op.drop_table(table_name)
