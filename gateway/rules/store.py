"""The compliance policy's SQL adapter: a CompliancePolicy from the reference tables."""
from __future__ import annotations

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from gateway.rules.compliance import (
    AccountProfile,
    ClientCategory,
    CompliancePolicy,
    Entity,
    PolicyEffect,
    PolicyRule,
    PolicyScope,
)
from gateway.rules.models import AccountRow, EntityRow, PolicyRuleRow
from marketcal.models import InstrumentRow

log = structlog.get_logger(__name__)


def load_compliance(session: Session) -> CompliancePolicy:
    """Compliance policy from the reference tables; an invalid LEI raises ValueError."""
    entities = {
        row.id: Entity(row.id, row.name, row.lei, row.fatca_reportable, ClientCategory(row.client_category))
        for row in session.scalars(select(EntityRow))
    }
    accounts = {
        row.account: AccountProfile(row.account, row.stocks_enabled, row.jurisdiction,
                                    None if row.entity_id is None else entities[row.entity_id])
        for row in session.scalars(select(AccountRow))
    }
    rules = tuple(
        PolicyRule(row.jurisdiction, PolicyScope(row.scope), row.target, PolicyEffect(row.effect))
        for row in session.scalars(select(PolicyRuleRow).order_by(PolicyRuleRow.id))
    )
    stock_symbols = frozenset(session.scalars(select(InstrumentRow.symbol)))
    log.info("compliance_loaded", accounts=len(accounts), entities=len(entities), rules=len(rules))
    return CompliancePolicy(accounts, rules, stock_symbols)
