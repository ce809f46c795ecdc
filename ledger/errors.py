"""Refusals of the ledger. A refused command writes no journal entry, so the caller may still commit."""
from __future__ import annotations

from decimal import Decimal


class LedgerError(Exception):
    """Base of every refusal by settlement.ledger.Ledger."""


class InvalidAmount(LedgerError):
    """Not a positive, finite Decimal the store can hold exactly (at most 12 fraction digits)."""


class InvalidAccount(LedgerError):
    """The command names an account it may not use (e.g. locking the `external` counterpart)."""


class InsufficientFunds(LedgerError):
    def __init__(self, owner: str, asset: str, available: Decimal, requested: Decimal) -> None:
        super().__init__(f"{owner} has {available} {asset} available, {requested} requested")
        self.owner = owner
        self.asset = asset
        self.available = available
        self.requested = requested


class HoldNotFound(LedgerError):
    def __init__(self, hold_id: str) -> None:
        super().__init__(f"no hold {hold_id!r}")
        self.hold_id = hold_id


class HoldExceeded(LedgerError):
    def __init__(self, hold_id: str, locked: Decimal, requested: Decimal) -> None:
        super().__init__(f"hold {hold_id!r} locks {locked}, {requested} requested")
        self.hold_id = hold_id
        self.locked = locked
        self.requested = requested


class StagedWriteFailed(Exception):
    """Writing the ledger's staged rows failed part-way (ledger/pending.py): the transaction holds
    some of them and not others, so it can only roll back. Not a refusal: nothing may commit."""


class IdempotencyConflict(LedgerError):
    """An idempotency key or hold id is reused for a different command."""
