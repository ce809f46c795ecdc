"""post-trade equity settlement calls, keyed by idempotency key

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine[object]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def upgrade() -> None:
    op.create_table(
        "equity_settlements",
        sa.Column("idempotency_key", sa.String(length=128), nullable=False),
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("unsettled_equity", _decimal(), nullable=False),
        sa.Column("borrow_limit", _decimal(), nullable=False),
        sa.Column("drained_usdc", _decimal(), nullable=False),
        sa.Column("borrowed_usdc", _decimal(), nullable=False),
        sa.Column("drawn_usdc", _decimal(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_equity_settlements")),
    )


def downgrade() -> None:
    op.drop_table("equity_settlements")
