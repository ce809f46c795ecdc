"""the broker's venue session progress: the MsgSeqNum of the last trade report committed

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broker_venue_progress",
        sa.Column("session", sa.String(length=64), nullable=False),
        sa.Column("last_trade_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session", name=op.f("pk_broker_venue_progress")),
    )


def downgrade() -> None:
    op.drop_table("broker_venue_progress")
