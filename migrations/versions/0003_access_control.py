"""access control: session credentials and operator commands

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-20

Column types are spelled out (as in 0001) so this revision keeps describing the same schema
whatever happens to settlement.models_access later.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _create_session_credentials() -> None:
    op.create_table(
        "session_credentials",
        sa.Column("comp_id", sa.String(length=64), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=False),
        sa.Column("updated_at", _timestamp(), nullable=False),
        sa.PrimaryKeyConstraint("comp_id", name="pk_session_credentials"),
    )


def _create_operator_commands() -> None:
    op.create_table(
        "operator_commands",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("command", sa.String(length=32), nullable=False),
        sa.Column("comp_id", sa.String(length=64), nullable=False),
        sa.Column("requested_at", _timestamp(), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("applied_at", _timestamp(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "command IN ('disable_solver', 'enable_solver')", name="ck_operator_commands_command"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_operator_commands"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_operator_commands_applied_at", "operator_commands", ["applied_at"])


def _create_solver_status() -> None:
    op.create_table(
        "solver_status",
        sa.Column("comp_id", sa.String(length=64), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", _timestamp(), nullable=False),
        sa.Column("reason", sa.String(length=256), nullable=True),
        sa.PrimaryKeyConstraint("comp_id", name="pk_solver_status"),
    )


def upgrade() -> None:
    _create_session_credentials()
    _create_operator_commands()
    _create_solver_status()


def downgrade() -> None:
    # No foreign keys between these tables; dropping a table drops its indexes too.
    for table_name in ("solver_status", "operator_commands", "session_credentials"):
        op.drop_table(table_name)
