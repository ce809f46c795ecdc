"""Liquidation by RFQ (pure): when an account falls below MMF, a CollateralConversion -- an
Immediate sell RFQ for the account, its requester the account holder's session -- and what
happens after each attempt (filled, retried on a schedule, escalated to an operator).

The dialect (README "Collateral and margin"): a CollateralConversion reaches solvers as any RFQ
(QuoteRequest, Side=Sell, OrdQty in shares). It is entered as an order, so the account holder
hears ExecutionReports only; their ClOrdID (11) starts with LIQ- (LIQ-<liquidation>-<attempt>),
which is how the holder tells the liquidation's trade from their own.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from core.events import DomainEvent
from core.types import SessionName, Side
from gateway.domain.commands import RequestQuote
from gateway.domain.rfq import ExecutionMode, RfqOrigin, RfqState
from ledger.margin import AccountMargin, LiquidationOrder

CLIENT_ID_PREFIX = "LIQ-"


class LiquidationStatus(StrEnum):
    OPEN = "open"  # an attempt's RFQ is live
    FILLED = "filled"  # the conversion filled; the proceeds repaid the borrow
    RETRYING = "retrying"  # the last attempt found no quote within the bound; another is scheduled
    ESCALATED = "escalated"  # as retrying, after too many attempts: an operator must look (admin liquidations)
    RESOLVED = "resolved"  # the account recovered above MMF without a fill (prices rose, a deposit)


ACTIVE = frozenset({LiquidationStatus.OPEN, LiquidationStatus.RETRYING, LiquidationStatus.ESCALATED})


@dataclass(frozen=True)
class Liquidation:
    liquidation_id: int
    account: str
    session: SessionName
    order: LiquidationOrder
    attempts: int
    status: LiquidationStatus
    opened_at: datetime
    rfq_id: int | None = None
    client_req_id: str | None = None
    next_attempt_at: datetime | None = None
    text: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE


@dataclass(frozen=True)
class CollateralConversionOpened(DomainEvent):
    liquidation_id: int
    account: str
    symbol: str
    quantity: Decimal
    mark: Decimal
    limit_price: Decimal
    shortfall: Decimal
    attempt: int


@dataclass(frozen=True)
class LiquidationEscalated(DomainEvent):
    liquidation_id: int
    account: str
    attempts: int
    text: str


@dataclass(frozen=True)
class LiquidationFilled(DomainEvent):
    liquidation_id: int
    account: str
    attempts: int


def client_req_id(liquidation_id: int, attempt: int) -> str:
    return f"{CLIENT_ID_PREFIX}{liquidation_id}-{attempt}"


def is_liquidation_id(cl_ord_id: str) -> bool:
    return cl_ord_id.startswith(CLIENT_ID_PREFIX)


def conversion_request(order: LiquidationOrder, session: SessionName, liquidation_id: int,
                       attempt: int) -> RequestQuote:
    """The system-initiated RFQ of one attempt: Immediate, sell, bounded at the order's limit."""
    return RequestQuote(requester=session, client_req_id=client_req_id(liquidation_id, attempt),
                        symbol=order.symbol, side=Side.SELL, quantity=order.quantity,
                        limit_price=order.limit_price, mode=ExecutionMode.IMMEDIATE, origin=RfqOrigin.ORDER)


def needs_attempt(margin: AccountMargin, active: Liquidation | None, now: datetime) -> bool:
    """Below MMF, and no attempt live: none yet, or the next scheduled one is due."""
    if not margin.below_maintenance:
        return False
    if active is None:
        return True
    return active.status is not LiquidationStatus.OPEN and (active.next_attempt_at is None
                                                            or now >= active.next_attempt_at)


def after_attempt(liquidation: Liquidation, rfq_state: RfqState | None, now: datetime, retry_after: timedelta,
                  escalate_after: int) -> Liquidation:
    """The liquidation once its attempt's RFQ ended (None: the RFQ was refused or never recorded)."""
    if rfq_state is RfqState.FILLED:
        return replace(liquidation, status=LiquidationStatus.FILLED, next_attempt_at=None, text="filled")
    escalated = liquidation.status is LiquidationStatus.ESCALATED or liquidation.attempts >= escalate_after
    status = LiquidationStatus.ESCALATED if escalated else LiquidationStatus.RETRYING
    text = f"attempt {liquidation.attempts}: no quote at or above {liquidation.order.limit_price} " \
           f"({rfq_state.value if rfq_state else 'refused'})"
    return replace(liquidation, status=status, next_attempt_at=now + retry_after, text=text)
