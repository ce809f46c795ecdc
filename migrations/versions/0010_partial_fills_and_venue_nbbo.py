"""RFQs that settled less than their quantity are PartiallyFilled, no longer Filled; the broker
keeps the NBBO of its venue execution with its RFQ (reported to the gateway as 5002/5003)

Rows written before the state existed are corrected: state Filled with filled_quantity below
quantity. Quantities are compared as Decimals in Python (SQLite stores them as text).

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RFQS = sa.table("rfqs", sa.column("id", sa.Integer()), sa.column("state", sa.String()),
                 sa.column("quantity", sa.Text()), sa.column("filled_quantity", sa.Text()))


def _move(from_state: str, to_state: str, partial: bool) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(_RFQS.c.id, _RFQS.c.quantity, _RFQS.c.filled_quantity)
                              .where(_RFQS.c.state == from_state)).all()
    ids = [row.id for row in rows if (Decimal(str(row.filled_quantity)) < Decimal(str(row.quantity))) == partial]
    for start in range(0, len(ids), 500):
        connection.execute(sa.update(_RFQS).where(_RFQS.c.id.in_(ids[start:start + 500])).values(state=to_state))


def _decimal() -> sa.types.TypeEngine[object]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def upgrade() -> None:
    _move("Filled", "PartiallyFilled", partial=True)
    with op.batch_alter_table("broker_rfqs") as batch:
        batch.add_column(sa.Column("nbbo_bid", _decimal(), nullable=True))
        batch.add_column(sa.Column("nbbo_offer", _decimal(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("broker_rfqs") as batch:
        batch.drop_column("nbbo_offer")
        batch.drop_column("nbbo_bid")
    _move("PartiallyFilled", "Filled", partial=True)
