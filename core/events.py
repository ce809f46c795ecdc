"""The base of every domain event: what happened (past tense, immutable), recorded in the
outbox in the same transaction as the state change, then published."""
from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
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
        """The fields as `dataclasses.asdict` gives them (nested dataclasses as dicts), Decimals and
        datetimes at the top as text -- without asdict's deep copy: every field is immutable."""
        return {name: _plain(_as_data(getattr(self, name))) for name in field_names(type(self))}


_FIELD_NAMES: dict[type, tuple[str, ...]] = {}  # one entry per dataclass: bounded by the code


def field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(field.name for field in fields(cls))
    return names


def _as_data(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {name: _as_data(getattr(value, name)) for name in field_names(type(value))}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a namedtuple, as asdict builds it
        return type(value)(*[_as_data(item) for item in value])
    if isinstance(value, (list, tuple)):
        return type(value)(_as_data(item) for item in value)
    if isinstance(value, dict):
        return type(value)((_as_data(key), _as_data(item)) for key, item in value.items())
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value
