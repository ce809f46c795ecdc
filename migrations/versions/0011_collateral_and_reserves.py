"""stocks as collateral: liquidations (collateral-conversion RFQs) and proof-of-reserves runs

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine[object]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def upgrade() -> None:
    op.create_table(
        "liquidations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("session", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("mark", _decimal(), nullable=False),
        sa.Column("limit_price", _decimal(), nullable=False),
        sa.Column("shortfall", _decimal(), nullable=False),
        sa.Column("rfq_id", sa.Integer(), nullable=True),
        sa.Column("client_req_id", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("text", sa.String(length=256), nullable=True),
        sa.CheckConstraint("status IN ('open', 'filled', 'retrying', 'escalated', 'resolved')",
                           name=op.f("ck_liquidations_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_liquidations")),
        sqlite_autoincrement=True,
    )
    op.create_index(op.f("ix_liquidations_account_status"), "liquidations", ["account", "status"])
    op.create_table(
        "reserve_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reserve_runs")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "reserve_assets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("liabilities", _decimal(), nullable=False),
        sa.Column("reserves", _decimal(), nullable=False),
        sa.Column("root_hash", sa.String(length=64), nullable=False),
        sa.Column("accounts", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["reserve_runs.id"], name=op.f("fk_reserve_assets_run_id_reserve_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reserve_assets")),
        sa.UniqueConstraint("run_id", "asset", name=op.f("uq_reserve_assets_run_id_asset")),
    )
    op.create_index(op.f("ix_reserve_assets_run_id"), "reserve_assets", ["run_id"])
    op.create_table(
        "reserve_leaves",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("asset", sa.String(length=16), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("balance", _decimal(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["reserve_runs.id"], name=op.f("fk_reserve_leaves_run_id_reserve_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reserve_leaves")),
        sa.UniqueConstraint("run_id", "asset", "account", name=op.f("uq_reserve_leaves_run_id_asset_account")),
    )
    op.create_index(op.f("ix_reserve_leaves_run_id"), "reserve_leaves", ["run_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_reserve_leaves_run_id"), table_name="reserve_leaves")
    op.drop_table("reserve_leaves")
    op.drop_index(op.f("ix_reserve_assets_run_id"), table_name="reserve_assets")
    op.drop_table("reserve_assets")
    op.drop_table("reserve_runs")
    op.drop_index(op.f("ix_liquidations_account_status"), table_name="liquidations")
    op.drop_table("liquidations")
