"""What happened at the broker connector (past tense), recorded in the outbox with its state."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.events import DomainEvent


@dataclass(frozen=True)
class OrderSent(DomainEvent):
    cl_ord_id: str
    symbol: str
    side: str
    quantity: Decimal
    limit_price: Decimal
