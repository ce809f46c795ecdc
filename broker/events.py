"""What happened at the broker connector (past tense), recorded in the outbox with its state."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from broker.refs import RfqRef
from core.events import DomainEvent
from core.types import RfqId


@dataclass(frozen=True, kw_only=True)
class BrokerEvent(DomainEvent):
    """An event about an RFQ the broker won, named by the gateway's QuoteReqID (`rfq_ref`).

    The outbox row's integer rfq_id stays empty: it holds the gateway's internal RFQ number, which
    the broker never learns (the gateway's ids are opaque to it). The payload keeps its `rfq_id`
    key, holding the reference instead, so consumers still see which RFQ the event is about."""

    rfq_id: RfqId | None = None
    rfq_ref: RfqRef

    def payload(self) -> dict[str, Any]:
        body = super().payload()
        body["rfq_id"] = body.pop("rfq_ref")
        return body


@dataclass(frozen=True, kw_only=True)
class OrderSent(BrokerEvent):
    cl_ord_id: str
    symbol: str
    side: str
    quantity: Decimal
    limit_price: Decimal


@dataclass(frozen=True, kw_only=True)
class MintStockTokens(BrokerEvent):
    """A command to custody, carried on the event bus: mint tokens for shares bought."""

    symbol: str
    quantity: Decimal
    account: str


@dataclass(frozen=True, kw_only=True)
class WithdrawToken(BrokerEvent):
    """A command to custody: pull sold shares' tokens back from the bridge account."""

    symbol: str
    quantity: Decimal
    account: str


@dataclass(frozen=True, kw_only=True)
class TokenWithdrawn(BrokerEvent):
    symbol: str
    quantity: Decimal


@dataclass(frozen=True, kw_only=True)
class RfqUnsettled(BrokerEvent):
    """Shares traded at the venue for an RFQ the gateway did not settle: a break operations resolve."""

    symbol: str
    side: str
    quantity: Decimal
    text: str
