"""operator commands may record a broker margin change (the console's "set margin" action)

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0003 named it before the naming convention applied, which prefixed it a second time.
OLD_NAME = "ck_operator_commands_ck_operator_commands_command"
NAME = "ck_operator_commands_command"  # what the model's naming convention gives
BEFORE = "command IN ('disable_solver', 'enable_solver')"
AFTER = "command IN ('disable_solver', 'enable_solver', 'set_broker_margin')"


def _replace_check(drop: str, create: str, condition: str) -> None:
    # SQLite cannot alter a constraint: the batch rebuilds the table (and keeps AUTOINCREMENT).
    with op.batch_alter_table("operator_commands", table_kwargs={"sqlite_autoincrement": True}) as batch:
        batch.drop_constraint(op.f(drop), type_="check")
        batch.create_check_constraint(op.f(create), condition)


def upgrade() -> None:
    _replace_check(OLD_NAME, NAME, AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM operator_commands WHERE command = 'set_broker_margin'")
    _replace_check(NAME, OLD_NAME, BEFORE)
