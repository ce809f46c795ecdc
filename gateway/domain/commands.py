"""Commands: what a counterparty asks the engine to do (imperative, immutable).

The FIX boundary builds exactly one of these per inbound application message.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from gateway.domain.types import SessionName, Side


@dataclass(frozen=True)
class RequestQuote:
    requester: SessionName
    client_req_id: str
    symbol: str
    side: Side
    quantity: Decimal
    limit_price: Decimal | None


@dataclass(frozen=True)
class SubmitQuote:
    solver: SessionName
    solver_quote_id: str
    quote_req_id: str  # the gateway's id the solver was sent
    symbol: str
    bid_price: Decimal | None
    offer_price: Decimal | None
    bid_size: Decimal | None
    offer_size: Decimal | None
    valid_until: datetime | None


class ResponseType(StrEnum):
    HIT_LIFT = "hit_lift"
    PASS = "pass"
    OTHER = "other"


@dataclass(frozen=True)
class AcceptQuote:
    requester: SessionName
    client_resp_id: str
    quote_id: str
    response_type: ResponseType


class ExecutionOutcome(StrEnum):
    FILLED = "filled"  # LastQty is the whole quantity the solver will ever deliver
    FAILED = "failed"  # the solver could not execute; nothing was filled


@dataclass(frozen=True)
class ReportExecution:
    solver: SessionName
    quote_resp_id: str  # the id the gateway gave the solver on acceptance
    exec_id: str
    outcome: ExecutionOutcome
    last_price: Decimal | None
    last_quantity: Decimal | None
    text: str | None


@dataclass(frozen=True)
class SessionStatusChanged:
    session: SessionName
    logged_on: bool
