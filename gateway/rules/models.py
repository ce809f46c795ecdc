"""The gateway's compliance reference tables: legal entities, accounts and jurisdiction policy
rules. app/reference_data.py seeds them from config; gateway/rules/store.py loads them into a
CompliancePolicy. The allowed values mirror gateway.rules.compliance's enums."""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from db.base import Base, one_of
from marketcal.models import SYMBOL_LENGTH

CLIENT_CATEGORIES = ("retail", "professional", "eligible_counterparty")
POLICY_SCOPES = ("stock", "spot")
POLICY_EFFECTS = ("allow", "deny")
ACCOUNT_LENGTH = 64
LEI_LENGTH = 20


class EntityRow(Base):
    """The legal entity behind accounts: LEI, FATCA reportability and client category."""

    __tablename__ = "entities"
    __table_args__ = (CheckConstraint(one_of("client_category", CLIENT_CATEGORIES), name="client_category"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    lei: Mapped[str] = mapped_column(String(LEI_LENGTH), unique=True)
    fatca_reportable: Mapped[bool] = mapped_column(Boolean)
    client_category: Mapped[str] = mapped_column(String(32))


class AccountRow(Base):
    """A trading account (the FIX sessions' `account`): stocks flag and jurisdiction."""

    __tablename__ = "accounts"

    account: Mapped[str] = mapped_column(String(ACCOUNT_LENGTH), primary_key=True)
    stocks_enabled: Mapped[bool] = mapped_column(Boolean)
    jurisdiction: Mapped[str] = mapped_column(String(8))
    entity_id: Mapped[str | None] = mapped_column(ForeignKey("entities.id"))


class PolicyRuleRow(Base):
    """ALLOW or DENY `target` (a symbol or the group "@stocks") in one jurisdiction and scope."""

    __tablename__ = "policy_rules"
    __table_args__ = (
        UniqueConstraint("jurisdiction", "scope", "target"),
        CheckConstraint(one_of("scope", POLICY_SCOPES), name="scope"),
        CheckConstraint(one_of("effect", POLICY_EFFECTS), name="effect"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    jurisdiction: Mapped[str] = mapped_column(String(8))
    scope: Mapped[str] = mapped_column(String(8))
    target: Mapped[str] = mapped_column(String(SYMBOL_LENGTH))
    effect: Mapped[str] = mapped_column(String(8))

