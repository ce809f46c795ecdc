"""Stocks flag, jurisdiction policy rules and LEI validation (gateway.rules.compliance)."""
from __future__ import annotations

import pytest

from app.settings import Settings
from core.refusal import RejectReason
from gateway.rules.compliance import (
    STOCKS_GROUP,
    AccountProfile,
    ClientCategory,
    CompliancePolicy,
    Entity,
    PolicyEffect,
    PolicyRule,
    PolicyScope,
    lei_check_digits,
    lei_problem,
)
from gateway.rules.models import CLIENT_CATEGORIES, POLICY_EFFECTS, POLICY_SCOPES

STOCK, SPOT = PolicyScope.STOCK, PolicyScope.SPOT
ALLOW, DENY = PolicyEffect.ALLOW, PolicyEffect.DENY
STOCKS = frozenset({"AAPL", "MSFT", "NVDA"})
APPLE_LEI = "HWUPKR0MPOU8FGXBT394"  # Apple Inc., from the GLEIF register
MICROSOFT_LEI = "INR2EJN1ERAN0W5ZP974"  # Microsoft Corporation


def account(name: str, jurisdiction: str = "US", stocks_enabled: bool = True) -> AccountProfile:
    return AccountProfile(name, stocks_enabled, jurisdiction)


def policy(*rules: PolicyRule, accounts: tuple[AccountProfile, ...] = ()) -> CompliancePolicy:
    profiles = accounts or (account("US1"), account("ZZ1", "ZZ"), account("OFF", stocks_enabled=False))
    return CompliancePolicy({profile.account: profile for profile in profiles}, rules, STOCKS)


def refused(outcome: object) -> str:
    assert outcome is not None, "expected a refusal"
    assert outcome.reason is RejectReason.NOT_AUTHORIZED  # type: ignore[attr-defined]
    return outcome.text  # type: ignore[attr-defined]


# ---- LEI ----

@pytest.mark.parametrize("lei", [APPLE_LEI, MICROSOFT_LEI, "549300REQ1TRADING066"])
def test_valid_leis(lei: str) -> None:
    assert lei_problem(lei) is None


@pytest.mark.parametrize(("lei", "why"), [
    ("HWUPKR0MPOU8FGXBT395", "check digits"),  # last digit changed
    ("HWUPKR0MPOU8FGXTB394", "check digits"),  # two characters swapped
    ("HWUPKR0MPOU8FGXBT39", "20 characters"),
    ("HWUPKR0MPOU8FGXBT3940", "20 characters"),
    ("hwupkr0mpou8fgxbt394", "upper-case"),
    ("HWUPKR0MPOU8FGXBT3A4", "check digits"),  # letters in the check-digit positions
    ("HWUPKR0MPOU8FGX-T394", "upper-case"),
])
def test_invalid_leis(lei: str, why: str) -> None:
    problem = lei_problem(lei)
    assert problem is not None and why in problem


def test_check_digits_complete_a_prefix() -> None:
    assert lei_check_digits(APPLE_LEI[:18]) == APPLE_LEI[18:]
    assert lei_check_digits(MICROSOFT_LEI[:18]) == MICROSOFT_LEI[18:]


def test_entity_with_bad_lei_is_rejected() -> None:
    with pytest.raises(ValueError, match="check digits"):
        Entity("e1", "Bad Data Ltd", "HWUPKR0MPOU8FGXBT395", False, ClientCategory.PROFESSIONAL)
    entity = Entity("e2", "Apple Inc.", APPLE_LEI, True, ClientCategory.ELIGIBLE_COUNTERPARTY)
    assert entity.lei == APPLE_LEI


def test_development_configuration_leis_are_valid() -> None:
    entities = Settings().entities
    assert entities, "config/rfq.toml defines entities"
    for section in entities:
        assert lei_problem(section.lei) is None, section.id


# ---- authorize ----

def test_enabled_account_without_rules_is_authorized() -> None:
    assert policy().authorize("US1", "AAPL") is None


def test_unknown_account() -> None:
    assert refused(policy().authorize("GHOST", "AAPL")) == "account GHOST is not known to the gateway"


def test_stocks_not_enabled() -> None:
    assert refused(policy().authorize("OFF", "AAPL")) == "account OFF is not enabled for stock trading"


def test_allow_rule_does_not_override_the_stocks_flag() -> None:
    rules = (PolicyRule("US", STOCK, "AAPL", ALLOW), PolicyRule("US", STOCK, STOCKS_GROUP, ALLOW))
    assert refused(policy(*rules).authorize("OFF", "AAPL")) == "account OFF is not enabled for stock trading"


def test_group_deny_covers_every_stock_in_the_jurisdiction_only() -> None:
    rules = policy(PolicyRule("ZZ", STOCK, STOCKS_GROUP, DENY))
    for symbol in sorted(STOCKS):
        expected = f"{symbol} may not be traded by account ZZ1 in jurisdiction ZZ"
        assert refused(rules.authorize("ZZ1", symbol)) == expected
        assert rules.authorize("US1", symbol) is None


def test_group_does_not_cover_symbols_outside_the_reference_data() -> None:
    rules = policy(PolicyRule("ZZ", STOCK, STOCKS_GROUP, DENY))
    assert rules.authorize("ZZ1", "SOL") is None


def test_symbol_allow_beats_group_deny() -> None:
    rules = policy(PolicyRule("ZZ", STOCK, STOCKS_GROUP, DENY), PolicyRule("ZZ", STOCK, "MSFT", ALLOW))
    assert rules.authorize("ZZ1", "MSFT") is None
    refused(rules.authorize("ZZ1", "AAPL"))


def test_symbol_deny_beats_group_allow() -> None:
    rules = policy(PolicyRule("US", STOCK, STOCKS_GROUP, ALLOW), PolicyRule("US", STOCK, "NVDA", DENY))
    refused(rules.authorize("US1", "NVDA"))
    assert rules.authorize("US1", "AAPL") is None


def test_deny_beats_allow_at_the_same_level() -> None:
    symbol_conflict = policy(PolicyRule("US", STOCK, "AAPL", ALLOW), PolicyRule("US", STOCK, "AAPL", DENY))
    refused(symbol_conflict.authorize("US1", "AAPL"))
    group_conflict = policy(PolicyRule("US", STOCK, STOCKS_GROUP, DENY), PolicyRule("US", STOCK, STOCKS_GROUP, ALLOW))
    refused(group_conflict.authorize("US1", "MSFT"))


def test_spot_rules_never_affect_stock_rfqs() -> None:
    rules = policy(PolicyRule("US", SPOT, STOCKS_GROUP, DENY), PolicyRule("US", SPOT, "AAPL", DENY),
                   PolicyRule("ZZ", SPOT, "MSFT", ALLOW), PolicyRule("ZZ", STOCK, STOCKS_GROUP, DENY))
    assert rules.authorize("US1", "AAPL") is None
    assert rules.authorize("US1", "NVDA") is None
    refused(rules.authorize("ZZ1", "MSFT"))  # a SPOT allow does not lift a STOCK deny either


def test_accounts_with_an_entity() -> None:
    entity = Entity("apple", "Apple Inc.", APPLE_LEI, False, ClientCategory.PROFESSIONAL)
    profile = AccountProfile("APPL1", True, "US", entity)
    assert policy(accounts=(profile,)).authorize("APPL1", "AAPL") is None


def test_unknown_symbol_group_is_rejected() -> None:
    with pytest.raises(ValueError, match="@crypto"):
        PolicyRule("US", STOCK, "@crypto", DENY)


def test_mis_keyed_accounts_are_rejected() -> None:
    with pytest.raises(ValueError):
        CompliancePolicy({"A": account("B")}, (), STOCKS)


def test_enum_values_match_the_sql_check_constraints() -> None:
    assert tuple(ClientCategory) == CLIENT_CATEGORIES
    assert tuple(PolicyScope) == POLICY_SCOPES
    assert tuple(PolicyEffect) == POLICY_EFFECTS
