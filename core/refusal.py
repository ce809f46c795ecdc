"""Why a request was refused, in words a counterparty can act on.

Any component may refuse (the market calendar, compliance, the RFQ engine); the gateway maps
each reason to its FIX code (658, 380, 103) at the boundary."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectReason(StrEnum):
    """Why an RFQ or an action on it was refused (mapped to FIX 658 / 380 at the boundary)."""

    UNKNOWN_SYMBOL = "unknown_symbol"
    EXCHANGE_CLOSED = "exchange_closed"
    INVALID_QUANTITY = "invalid_quantity"
    TOO_LATE = "too_late"
    INVALID_PRICE = "invalid_price"
    NOT_AUTHORIZED = "not_authorized"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    UNKNOWN_ID = "unknown_id"
    DUPLICATE_ID = "duplicate_id"
    WRONG_STATE = "wrong_state"
    THROTTLED = "throttled"  # a limit of the session was reached (rate, queue, open RFQs)
    OTHER = "other"


@dataclass(frozen=True)
class Refusal:
    reason: RejectReason
    text: str

    def __post_init__(self) -> None:
        if not self.text:
            raise ValueError("a refusal explains itself: text must not be empty")
