"""What the gateway asks of the ledger: decided by pure handlers, carried in the Changeset,
executed by the engine in the same transaction as the RFQ's state change.

Handlers never write to the ledger themselves; they read balances through `BalanceReader`
and return intents. An intent that cannot be carried out (funds short) is refused with the
DomainRejection it carries, which rolls back everything the decision would have written.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from core.types import RfqId
from gateway.domain.errors import DomainRejection
from ledger.margin import MarginParameters


@dataclass(frozen=True, eq=False)
class LockFunds:
    """Reserve `amount` of the owner's available `asset` under a pending hold (TigerBeetle's pending transfer)."""

    hold_id: str
    owner: str
    asset: str
    amount: Decimal
    rfq_id: RfqId
    expires_at: datetime | None
    if_insufficient: DomainRejection

    @property
    def idempotency_key(self) -> str:
        return f"lock:{self.hold_id}"


@dataclass(frozen=True)
class PostHold:
    """Pay `amount` of a pending hold to `beneficiary`; the rest goes back to its owner."""

    hold_id: str
    amount: Decimal
    beneficiary: str

    @property
    def idempotency_key(self) -> str:
        return f"post:{self.hold_id}"


@dataclass(frozen=True)
class VoidHold:
    """Release the whole pending hold to its owner."""

    hold_id: str

    @property
    def idempotency_key(self) -> str:
        return f"void:{self.hold_id}"


@dataclass(frozen=True, eq=False)
class TransferFunds:
    """Move available funds between owners (e.g. price improvement beyond a hold)."""

    from_owner: str
    to_owner: str
    asset: str
    amount: Decimal
    idempotency_key: str
    description: str
    if_insufficient: DomainRejection


@dataclass(frozen=True)
class PendingBuy:
    """An accepted, not yet settled buy of the same account: its buying power is already spoken for."""

    symbol: str
    quantity: Decimal
    cost: Decimal


@dataclass(frozen=True, eq=False)
class LockWithMargin:
    """A buyer's cash leg when margin is on: lock `amount` USDC, or -- when available USDC falls
    short -- lock all of it and let the rest be borrowed at settlement, provided the account's
    collateral covers the position at IMF (after its other pending buys). Refused otherwise."""

    lock: LockFunds
    symbol: str
    quantity: Decimal
    pending: tuple[PendingBuy, ...]
    marks: Mapping[str, Decimal]
    parameters: MarginParameters


@dataclass(frozen=True)
class PostHoldWithMargin:
    """Pay `amount` USDC to `beneficiary`: what the hold has, and the rest through post-trade equity
    (drain, redeem lends, borrow within MMF) via the exchange; refused if the account falls short."""

    post: PostHold
    account: str
    marks: Mapping[str, Decimal]
    parameters: MarginParameters
    if_insufficient: DomainRejection


@dataclass(frozen=True)
class RepayBorrow:
    """After a sale: repay the account's USDC borrow from its available USDC (as far as it goes)."""

    account: str
    idempotency_key: str


LedgerIntent = LockFunds | PostHold | VoidHold | TransferFunds | LockWithMargin | PostHoldWithMargin | RepayBorrow


class BalanceReader(Protocol):
    """Read-only balances for decisions (buying power, shares held)."""

    def available(self, owner: str, asset: str) -> Decimal: ...
