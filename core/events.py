"""The base of every domain event: what happened (past tense, immutable), recorded in the
outbox in the same transaction as the state change, then published."""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from core.types import RfqId


@dataclass(frozen=True)
class DomainEvent:
    rfq_id: RfqId | None
    occurred_at: datetime

    @property
    def event_type(self) -> str:
        return type(self).__name__

    def payload(self) -> dict[str, Any]:
        return {key: _plain(value) for key, value in asdict(self).items()}


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
