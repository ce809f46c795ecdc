"""the broker keys its RFQs by the gateway's QuoteReqID (an opaque string), not a parsed number

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


TABLES = ("broker_rfqs", "venue_orders")


def upgrade() -> None:
    # Existing rows were keyed by the number in "rfq-N": the same QuoteReqID keeps their ClOrdIDs.
    if op.get_context().dialect.name == "postgresql":
        for table in TABLES:
            op.alter_column(table, "rfq_id", type_=sa.String(length=64), existing_type=sa.Integer(),
                            existing_nullable=False, postgresql_using="'rfq-' || rfq_id::text")
        return
    for table in TABLES:  # SQLite: the batch rebuild changes the type, then the values get their prefix
        with op.batch_alter_table(table) as batch:
            batch.alter_column("rfq_id", type_=sa.String(length=64), existing_type=sa.Integer(),
                               existing_nullable=False)
        op.execute(f"UPDATE {table} SET rfq_id = 'rfq-' || rfq_id")


def downgrade() -> None:
    if op.get_context().dialect.name == "postgresql":
        for table in TABLES:
            op.alter_column(table, "rfq_id", type_=sa.Integer(), existing_type=sa.String(length=64),
                            existing_nullable=False, postgresql_using="substr(rfq_id, 5)::integer")
        return
    for table in TABLES:
        op.execute(f"UPDATE {table} SET rfq_id = SUBSTR(rfq_id, 5) WHERE rfq_id LIKE 'rfq-%'")
        with op.batch_alter_table(table) as batch:
            batch.alter_column("rfq_id", type_=sa.Integer(), existing_type=sa.String(length=64),
                               existing_nullable=False)
