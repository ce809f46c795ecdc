"""Immutable results of ledger commands and the vocabulary shared by the ledger and its audit."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import NamedTuple

# The counterpart of every deposit: its available balance is the only one allowed below zero,
# which keeps every asset summing to zero over all accounts.
EXTERNAL_OWNER = "external"

AVAILABLE = "available"
LOCKED = "locked"

PENDING = "pending"
POSTED = "posted"
VOIDED = "voided"


@dataclass(frozen=True)
class Balance:
    available: Decimal
    locked: Decimal


@dataclass(frozen=True)
class HoldView:
    """A hold as seen by the caller: posted/released amounts are None while it is pending."""

    hold_id: str
    owner: str
    asset: str
    amount: Decimal
    status: str
    posted_amount: Decimal | None
    released_amount: Decimal | None


class RecordedLine(NamedTuple):
    """One line of a journal entry as written (for reading back a command's effect)."""

    owner: str
    asset: str
    bucket: str
    amount: Decimal


class RecordedEntry(NamedTuple):
    entry_id: int
    kind: str
    description: str
    lines: tuple[RecordedLine, ...]
