"""Building blocks of journal entries: argument checks and balanced postings."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from core.money import EXACT_CONTEXT, storable_decimal_problem
from ledger.errors import InvalidAmount
from ledger.models import LedgerAccount


@dataclass(frozen=True)
class Posting:
    account: LedgerAccount
    bucket: str
    amount: Decimal


def require_amount(amount: object) -> Decimal:
    if isinstance(amount, bool) or not isinstance(amount, Decimal):
        raise InvalidAmount(f"amount must be decimal.Decimal, got {type(amount).__name__}")
    problem = storable_decimal_problem(amount)
    if problem is not None:
        raise InvalidAmount(problem)
    if amount <= 0:
        raise InvalidAmount(f"amount must be positive, got {amount}")
    return amount


def require_text(name: str, value: object, max_length: int) -> str:
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ValueError(f"{name} must be a non-empty string of at most {max_length} characters: {value!r}")
    return value


def assert_balanced(postings: list[Posting]) -> None:
    """Double entry: every entry's lines sum to zero per asset, and no line is zero."""
    totals: dict[str, Decimal] = {}
    with localcontext(EXACT_CONTEXT):
        for posting in postings:
            assert posting.amount != 0, "zero-amount journal line"
            asset = posting.account.asset
            totals[asset] = totals.get(asset, Decimal(0)) + posting.amount
    unbalanced = {asset: total for asset, total in totals.items() if total != 0}
    assert not unbalanced, f"journal entry does not balance: {unbalanced}"
