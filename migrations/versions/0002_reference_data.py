"""reference data: instruments, market calendar, accounts, entities, policy rules

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-20

Column types are spelled out (as in 0001) so this revision keeps describing the same schema
whatever happens to settlement.models_reference later. The tables start empty:
gateway.rules.reference.seed_reference_data fills them from configuration.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Check-constraint names go through op.f(): they are final already, and without it the naming
# convention of the target metadata ("ck_%(table_name)s_%(constraint_name)s") would prefix them again.
SESSIONS_CHECK = "session IN ('pre_market', 'regular', 'post_market', 'overnight')"


def _decimal() -> sa.types.TypeEngine[object]:
    return sa.Text().with_variant(sa.Numeric(38, 12), "postgresql")


def _create_instruments() -> None:
    op.create_table(
        "instruments",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("cusip", sa.String(length=9), nullable=True),
        sa.Column("pyth_symbol", sa.String(length=64), nullable=False),
        sa.Column("dxfeed_symbol", sa.String(length=64), nullable=False),
        sa.Column("venue_symbol", sa.String(length=32), nullable=False),
        sa.Column("tick", _decimal(), nullable=False),
        sa.Column("submission_window_s", sa.Float(), nullable=True),
        sa.Column("acceptance_window_s", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("symbol", name="pk_instruments"),
    )


def _create_instrument_sessions() -> None:
    op.create_table(
        "instrument_sessions",
        sa.Column("symbol", sa.String(length=32), nullable=False),
        sa.Column("session", sa.String(length=16), nullable=False),
        sa.CheckConstraint(SESSIONS_CHECK, name=op.f("ck_instrument_sessions_session")),
        sa.ForeignKeyConstraint(
            ["symbol"], ["instruments.symbol"], name="fk_instrument_sessions_symbol_instruments"
        ),
        sa.PrimaryKeyConstraint("symbol", "session", name="pk_instrument_sessions"),
    )


def _create_quantity_limits() -> None:
    op.create_table(
        "quantity_limits",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("symbol", sa.String(length=32), nullable=True),
        sa.Column("session", sa.String(length=16), nullable=False),
        sa.Column("min_quantity", _decimal(), nullable=False),
        sa.Column("max_quantity", _decimal(), nullable=False),
        sa.Column("step", _decimal(), nullable=False),
        sa.CheckConstraint(SESSIONS_CHECK, name=op.f("ck_quantity_limits_session")),
        sa.ForeignKeyConstraint(["symbol"], ["instruments.symbol"], name="fk_quantity_limits_symbol_instruments"),
        sa.PrimaryKeyConstraint("id", name="pk_quantity_limits"),
        sa.UniqueConstraint("symbol", "session", name="uq_quantity_limits_symbol_session"),
    )


def _create_market_holidays() -> None:
    op.create_table(
        "market_holidays",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("early_close_time", sa.Time(), nullable=True),
        sa.CheckConstraint("kind IN ('full', 'early')", name=op.f("ck_market_holidays_kind")),
        sa.CheckConstraint(
            "(kind = 'full' AND early_close_time IS NULL) OR (kind = 'early' AND early_close_time IS NOT NULL)",
            name=op.f("ck_market_holidays_early_close_time"),
        ),
        sa.PrimaryKeyConstraint("day", name="pk_market_holidays"),
    )


def _create_entities() -> None:
    op.create_table(
        "entities",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=256), nullable=False),
        sa.Column("lei", sa.String(length=20), nullable=False),
        sa.Column("fatca_reportable", sa.Boolean(), nullable=False),
        sa.Column("client_category", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "client_category IN ('retail', 'professional', 'eligible_counterparty')",
            name=op.f("ck_entities_client_category"),
        ),
        sa.PrimaryKeyConstraint("id", name="pk_entities"),
        sa.UniqueConstraint("lei", name="uq_entities_lei"),
    )


def _create_accounts() -> None:
    op.create_table(
        "accounts",
        sa.Column("account", sa.String(length=64), nullable=False),
        sa.Column("stocks_enabled", sa.Boolean(), nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["entity_id"], ["entities.id"], name="fk_accounts_entity_id_entities"),
        sa.PrimaryKeyConstraint("account", name="pk_accounts"),
    )


def _create_policy_rules() -> None:
    op.create_table(
        "policy_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("jurisdiction", sa.String(length=8), nullable=False),
        sa.Column("scope", sa.String(length=8), nullable=False),
        sa.Column("target", sa.String(length=32), nullable=False),
        sa.Column("effect", sa.String(length=8), nullable=False),
        sa.CheckConstraint("effect IN ('allow', 'deny')", name=op.f("ck_policy_rules_effect")),
        sa.CheckConstraint("scope IN ('stock', 'spot')", name=op.f("ck_policy_rules_scope")),
        sa.PrimaryKeyConstraint("id", name="pk_policy_rules"),
        sa.UniqueConstraint(
            "jurisdiction", "scope", "target", name="uq_policy_rules_jurisdiction_scope_target"
        ),
    )


def upgrade() -> None:
    _create_instruments()
    _create_instrument_sessions()
    _create_quantity_limits()
    _create_market_holidays()
    _create_entities()
    _create_accounts()
    _create_policy_rules()


def downgrade() -> None:
    # Reverse dependency order; dropping a table drops its indexes too.
    for table_name in (
        "policy_rules",
        "accounts",
        "entities",
        "market_holidays",
        "quantity_limits",
        "instrument_sessions",
        "instruments",
    ):
        op.drop_table(table_name)
