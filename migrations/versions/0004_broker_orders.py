"""broker connector persistence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa  # noqa: F401
from alembic import op  # noqa: F401

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _decimal() -> sa.types.TypeEngine[object]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def upgrade() -> None:
    op.create_table(
        "venue_orders",
        sa.Column("cl_ord_id", sa.String(length=64), nullable=False),
        sa.Column("rfq_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("quote_resp_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("limit_price", _decimal(), nullable=False),
        sa.Column("quoted_price", _decimal(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("cum_quantity", _decimal(), nullable=False),
        sa.Column("notional", _decimal(), nullable=False),
        sa.Column("venue_order_id", sa.String(length=64), nullable=True),
        sa.Column("reported", sa.Boolean(), nullable=False),
        sa.Column("text", sa.String(length=256), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("cl_ord_id", name=op.f("pk_venue_orders")),
    )
    op.create_index(op.f("ix_venue_orders_rfq_id"), "venue_orders", ["rfq_id"])
    op.create_table(
        "venue_fills",
        sa.Column("exec_id", sa.String(length=64), nullable=False),
        sa.Column("cl_ord_id", sa.String(length=64), nullable=False),
        sa.Column("venue_order_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("price", _decimal(), nullable=False),
        sa.Column("nbbo_bid", _decimal(), nullable=True),
        sa.Column("nbbo_offer", _decimal(), nullable=True),
        sa.Column("executed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("trade_date", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(["cl_ord_id"], ["venue_orders.cl_ord_id"],
                                name=op.f("fk_venue_fills_cl_ord_id_venue_orders")),
        sa.PrimaryKeyConstraint("exec_id", name=op.f("pk_venue_fills")),
    )
    op.create_index(op.f("ix_venue_fills_cl_ord_id"), "venue_fills", ["cl_ord_id"])
    op.create_index(op.f("ix_venue_fills_trade_date"), "venue_fills", ["trade_date"])
    op.create_table(
        "broker_rfqs",
        sa.Column("rfq_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("quote_resp_id", sa.String(length=64), nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("side", sa.String(length=8), nullable=False),
        sa.Column("quantity", _decimal(), nullable=False),
        sa.Column("quoted_price", _decimal(), nullable=False),
        sa.Column("margin_bps", _decimal(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("filled_quantity", _decimal(), nullable=False),
        sa.Column("venue_average", _decimal(), nullable=True),
        sa.Column("settle_price", _decimal(), nullable=True),
        sa.Column("text", sa.String(length=256), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rfq_id", name=op.f("pk_broker_rfqs")),
    )
    op.create_index(op.f("ix_broker_rfqs_state"), "broker_rfqs", ["state"])
    op.create_table(
        "broker_parameters",
        sa.Column("market_session", sa.String(length=16), nullable=False),
        sa.Column("margin_bps", _decimal(), nullable=False),
        sa.Column("aggression_bps", _decimal(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("market_session", name=op.f("pk_broker_parameters")),
    )


def downgrade() -> None:
    op.drop_table("broker_parameters")
    op.drop_index(op.f("ix_broker_rfqs_state"), table_name="broker_rfqs")
    op.drop_table("broker_rfqs")
    op.drop_index(op.f("ix_venue_fills_trade_date"), table_name="venue_fills")
    op.drop_index(op.f("ix_venue_fills_cl_ord_id"), table_name="venue_fills")
    op.drop_table("venue_fills")
    op.drop_index(op.f("ix_venue_orders_rfq_id"), table_name="venue_orders")
    op.drop_table("venue_orders")
