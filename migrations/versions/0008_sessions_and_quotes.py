"""exactly-once intake (session_progress), quote sequence numbers that survive restarts, the
broker's own quotes and its report deadlines, the FIX outbox

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine[object]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


BREAK_KINDS_BEFORE = ("'missing_ours', 'missing_theirs', 'quantity_mismatch', 'price_mismatch', "
                      "'settlement_date_mismatch', 'side_mismatch', 'symbol_mismatch', 'reserves_mismatch'")
BREAK_KINDS_AFTER = BREAK_KINDS_BEFORE + ", 'unsettled_venue_fill'"


# 0005 named its check "ck_recon_breaks_kind" under the naming convention, which made it
# ck_recon_breaks_ck_recon_breaks_kind; this revision's is ck_recon_breaks_kind.
CHECK_BEFORE, CHECK_AFTER = "ck_recon_breaks_ck_recon_breaks_kind", "ck_recon_breaks_kind"


def _break_kinds(kinds: str, drop: str, create: str) -> None:
    """Replace recon_breaks' kind check. PostgreSQL alters it in place; on SQLite the batch copy
    rebuilds the table (batch mode does not carry CHECK constraints over) with the new one."""
    if op.get_context().dialect.name == "postgresql":
        op.drop_constraint(op.f(drop), "recon_breaks", type_="check")
        op.create_check_constraint(op.f(create), "recon_breaks", f"kind IN ({kinds})")
        return
    with op.batch_alter_table("recon_breaks", recreate="always", copy_from=_recon_breaks_without_check()) as batch:
        batch.create_check_constraint(op.f(create), f"kind IN ({kinds})")


def _recon_breaks_without_check() -> sa.Table:
    """recon_breaks as 0005 made it, minus its kind check: the copy SQLite's batch mode rebuilds from."""
    metadata = sa.MetaData(naming_convention={"ck": "ck_%(table_name)s_%(constraint_name)s"})
    return sa.Table(
        "recon_breaks", metadata,
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=True),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("ours", sa.Text(), nullable=True),
        sa.Column("theirs", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_recon_breaks"),
        sa.ForeignKeyConstraint(["run_id"], ["recon_runs.id"], name="fk_recon_breaks_run_id_recon_runs"),
        sa.Index("ix_recon_breaks_run_id", "run_id"),
    )


def upgrade() -> None:
    _break_kinds(BREAK_KINDS_AFTER, drop=CHECK_BEFORE, create=CHECK_AFTER)
    op.create_table(
        "session_progress",
        sa.Column("comp_id", sa.String(length=64), nullable=False),
        sa.Column("sequence_epoch", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_processed_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("comp_id", name=op.f("pk_session_progress")),
    )
    op.add_column("quotes", sa.Column("sequence", sa.Integer(), nullable=True))
    # Quote ids are "q{rfq}-{sequence}": existing rows get the number after the dash.
    if op.get_context().dialect.name == "postgresql":
        op.execute("UPDATE quotes SET sequence = CAST(split_part(id, '-', 2) AS INTEGER)")
    else:
        op.execute("UPDATE quotes SET sequence = CAST(substr(id, instr(id, '-') + 1) AS INTEGER)")
    with op.batch_alter_table("quotes") as batch:
        batch.alter_column("sequence", existing_type=sa.Integer(), nullable=False)
        batch.create_unique_constraint(batch.f("uq_quotes_sequence"), ["sequence"])
    op.create_table(
        "broker_quotes",
        sa.Column("quote_id", sa.String(length=64), nullable=False),
        sa.Column("quote_req_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("bid", _decimal(), nullable=False),
        sa.Column("ask", _decimal(), nullable=False),
        sa.Column("margin_bps", _decimal(), nullable=False),
        sa.Column("valid_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("quote_id", name=op.f("pk_broker_quotes")),
    )
    op.create_index(op.f("ix_broker_quotes_valid_until"), "broker_quotes", ["valid_until"])
    op.add_column("broker_rfqs", sa.Column("settle_by", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "fix_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("session", sa.String(length=64), nullable=False),
        sa.Column("message_type", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fix_outbox")),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "fix_outbox_state",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("delivered_through", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fix_outbox_state")),
    )


def downgrade() -> None:
    _break_kinds(BREAK_KINDS_BEFORE, drop=CHECK_AFTER, create=CHECK_BEFORE)
    op.drop_table("fix_outbox_state")
    op.drop_table("fix_outbox")
    with op.batch_alter_table("broker_rfqs") as batch:
        batch.drop_column("settle_by")
    op.drop_index(op.f("ix_broker_quotes_valid_until"), table_name="broker_quotes")
    op.drop_table("broker_quotes")
    with op.batch_alter_table("quotes") as batch:
        batch.drop_constraint(batch.f("uq_quotes_sequence"), type_="unique")
        batch.drop_column("sequence")
    op.drop_table("session_progress")
