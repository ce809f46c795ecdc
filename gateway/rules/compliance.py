"""Who may trade which stock: the per-account stocks flag and jurisdiction policy rules (pure, no I/O).

Decision for `authorize(account, symbol)`, first match wins:
1. Unknown account: refused.
2. Account without stocks enabled: refused (the flag is the opt-in; rules cannot grant stocks).
3. Only rules of scope STOCK in the account's jurisdiction count. SPOT rules govern the spot
   order book and never affect stock RFQs.
4. Rules naming the symbol decide when there are any: the more specific rule beats the group, so a
   jurisdiction can deny @stocks and still allow a listed few.
5. Otherwise "@stocks" rules decide (the group is every instrument of the reference data).
6. No rule at all: allowed.
Within one level a DENY beats an ALLOW, so a contradictory configuration fails closed.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from core.refusal import Refusal, RejectReason

STOCKS_GROUP = "@stocks"
LEI_LENGTH = 20
# ISO 17442: 18 upper-case alphanumerics, then two check digits (ISO 7064 MOD 97-10).
_LEI_PATTERN = re.compile(r"[0-9A-Z]{18}[0-9]{2}")


class ClientCategory(StrEnum):
    RETAIL = "retail"
    PROFESSIONAL = "professional"
    ELIGIBLE_COUNTERPARTY = "eligible_counterparty"


class PolicyScope(StrEnum):
    STOCK = "stock"
    SPOT = "spot"


class PolicyEffect(StrEnum):
    ALLOW = "allow"
    DENY = "deny"


def _lei_as_number(characters: str) -> int:
    # Letters count as two-digit numbers, A=10 .. Z=35, as in IBAN check digits.
    return int("".join(str(int(character, 36)) for character in characters))


def lei_problem(lei: str) -> str | None:
    """Why `lei` is not a valid ISO 17442 Legal Entity Identifier, or None if it is."""
    if len(lei) != LEI_LENGTH:
        return f"LEI {lei!r} must be {LEI_LENGTH} characters, not {len(lei)}"
    if not _LEI_PATTERN.fullmatch(lei):
        return f"LEI {lei!r} must be 18 upper-case letters or digits followed by 2 check digits"
    if _lei_as_number(lei) % 97 != 1:
        return f"LEI {lei!r} has wrong check digits"
    return None


def lei_check_digits(first_18: str) -> str:
    """The two check digits that complete an 18-character LEI prefix (ISO 7064 MOD 97-10)."""
    if not re.fullmatch(r"[0-9A-Z]{18}", first_18):
        raise ValueError(f"not an LEI prefix: {first_18!r}")
    return f"{98 - _lei_as_number(first_18 + '00') % 97:02d}"


@dataclass(frozen=True)
class Entity:
    """The legal entity behind one or more accounts. Construction rejects an invalid LEI."""

    entity_id: str
    name: str
    lei: str
    fatca_reportable: bool
    category: ClientCategory

    def __post_init__(self) -> None:
        if not self.entity_id or not self.name:
            raise ValueError(f"entity needs an id and a name, got {self.entity_id!r} / {self.name!r}")
        problem = lei_problem(self.lei)
        if problem is not None:
            raise ValueError(f"entity {self.entity_id}: {problem}")


@dataclass(frozen=True)
class AccountProfile:
    account: str
    stocks_enabled: bool
    jurisdiction: str
    entity: Entity | None = None

    def __post_init__(self) -> None:
        if not self.account or not self.jurisdiction:
            raise ValueError(f"account needs a name and a jurisdiction, got {self.account!r} / {self.jurisdiction!r}")


@dataclass(frozen=True)
class PolicyRule:
    """`effect` for `target` (a symbol, or "@stocks" for every stock) in `jurisdiction` and `scope`."""

    jurisdiction: str
    scope: PolicyScope
    target: str
    effect: PolicyEffect

    def __post_init__(self) -> None:
        if not self.jurisdiction or not self.target:
            raise ValueError(f"policy rule needs a jurisdiction and a target: {self!r}")
        if self.target.startswith("@") and self.target != STOCKS_GROUP:
            raise ValueError(f"unknown symbol group {self.target!r}; the only group is {STOCKS_GROUP}")

    @property
    def is_group(self) -> bool:
        return self.target == STOCKS_GROUP


def _deciding_effect(rules: Iterable[PolicyRule]) -> PolicyEffect | None:
    effects = {rule.effect for rule in rules}
    if PolicyEffect.DENY in effects:
        return PolicyEffect.DENY
    return PolicyEffect.ALLOW if effects else None


@dataclass(frozen=True)
class CompliancePolicy:
    accounts: Mapping[str, AccountProfile]
    rules: tuple[PolicyRule, ...] = ()
    stock_symbols: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        for name, profile in self.accounts.items():
            if name != profile.account:
                raise ValueError(f"account profile keyed by {name} is for {profile.account}")
        # Accept any iterable of rules but keep an immutable copy.
        object.__setattr__(self, "rules", tuple(self.rules))

    def authorize(self, account: str, symbol: str) -> Refusal | None:
        """Why `account` may not trade `symbol` by RFQ, or None if it may."""
        profile = self.accounts.get(account)
        if profile is None:
            return _not_authorized(f"account {account} is not known to the gateway")
        if not profile.stocks_enabled:
            return _not_authorized(f"account {account} is not enabled for stock trading")
        if self._effect(profile.jurisdiction, symbol) is PolicyEffect.DENY:
            return _not_authorized(f"{symbol} may not be traded by account {account} "
                                   f"in jurisdiction {profile.jurisdiction}")
        return None

    def _effect(self, jurisdiction: str, symbol: str) -> PolicyEffect | None:
        applicable = [rule for rule in self.rules
                      if rule.scope is PolicyScope.STOCK and rule.jurisdiction == jurisdiction]
        symbol_effect = _deciding_effect(rule for rule in applicable if rule.target == symbol)
        if symbol_effect is not None:
            return symbol_effect
        if symbol not in self.stock_symbols:
            return None
        return _deciding_effect(rule for rule in applicable if rule.is_group)


def _not_authorized(text: str) -> Refusal:
    return Refusal(RejectReason.NOT_AUTHORIZED, text)
