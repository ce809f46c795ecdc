"""Domain events: what happened (past tense, immutable). Recorded in the outbox
in the same transaction as the state change, then published."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.events import DomainEvent


@dataclass(frozen=True)
class RfqCreated(DomainEvent):
    requester: str
    symbol: str
    side: str
    quantity: Decimal
    limit_price: Decimal | None


@dataclass(frozen=True)
class RfqRejected(DomainEvent):
    reason: str
    text: str


@dataclass(frozen=True)
class QuoteReceived(DomainEvent):
    quote_id: str
    solver: str
    bid_price: Decimal | None
    offer_price: Decimal | None


@dataclass(frozen=True)
class QuoteAccepted(DomainEvent):
    quote_id: str
    solver: str
    price: Decimal
    quantity: Decimal
    locked_amount: Decimal
    locked_asset: str


@dataclass(frozen=True)
class RfqFilled(DomainEvent):
    exec_id: str
    price: Decimal
    quantity: Decimal
    quoted_price: Decimal
    partial: bool


@dataclass(frozen=True)
class RfqSettled(DomainEvent):
    cash_amount: Decimal
    shares: Decimal
    cash_released: Decimal


@dataclass(frozen=True)
class RfqExecutionFailed(DomainEvent):
    text: str


@dataclass(frozen=True)
class RfqExpired(DomainEvent):
    quotes_received: int


@dataclass(frozen=True)
class RfqCanceled(DomainEvent):
    cancel_id: str


@dataclass(frozen=True)
class QuotesWithdrawn(DomainEvent):
    solver: str
    reason: str
    count: int


@dataclass(frozen=True)
class SessionLoggedOn(DomainEvent):
    session: str


@dataclass(frozen=True)
class SessionLoggedOut(DomainEvent):
    session: str
