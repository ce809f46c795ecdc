"""T+1 reconciliation runs, breaks and custody positions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BREAK_KINDS_CHECK = (
    "kind IN ('missing_ours', 'missing_theirs', 'quantity_mismatch', 'price_mismatch', "
    "'settlement_date_mismatch', 'side_mismatch', 'symbol_mismatch', 'reserves_mismatch')"
)


def _decimal() -> sa.types.TypeEngine[object]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recon_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.Column("settlement_date", sa.Date(), nullable=False),
        sa.Column("statement_file", sa.String(length=512), nullable=False),
        sa.Column("statement_sha256", sa.String(length=64), nullable=False),
        sa.Column("statement_rows", sa.Integer(), nullable=False),
        sa.Column("positions_file", sa.String(length=512), nullable=True),
        sa.Column("positions_sha256", sa.String(length=64), nullable=True),
        sa.Column("price_tolerance", _decimal(), nullable=False),
        sa.Column("started_at", _timestamp(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("breaks", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_recon_runs"),
        sa.UniqueConstraint("trade_date", "statement_sha256", name="uq_recon_runs_trade_date_statement_sha256"),
    )
    op.create_table(
        "recon_breaks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("ours", sa.Text(), nullable=True),
        sa.Column("theirs", sa.Text(), nullable=True),
        sa.CheckConstraint(BREAK_KINDS_CHECK, name="ck_recon_breaks_kind"),
        sa.ForeignKeyConstraint(["run_id"], ["recon_runs.id"], name="fk_recon_breaks_run_id_recon_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_recon_breaks"),
    )
    op.create_index("ix_recon_breaks_run_id", "recon_breaks", ["run_id"])
    op.create_table(
        "custody_positions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("as_of", _timestamp(), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("cusip", sa.String(length=9), nullable=True),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["recon_runs.id"], name="fk_custody_positions_run_id_recon_runs"),
        sa.PrimaryKeyConstraint("id", name="pk_custody_positions"),
        sa.UniqueConstraint("run_id", "account", "symbol", name="uq_custody_positions_run_id_account_symbol"),
    )


def downgrade() -> None:
    op.drop_table("custody_positions")
    op.drop_index("ix_recon_breaks_run_id", table_name="recon_breaks")
    op.drop_table("recon_breaks")
    op.drop_table("recon_runs")
