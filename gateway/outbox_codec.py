"""The engine's outbound messages as JSON, for the FIX outbox (gateway/models.py FixOutboxRow).

Generic over the dataclasses of gateway/domain/outbound.py: each field is written as JSON
(Decimals and datetimes as exact text, enums by value) and read back by its annotated type.
"""
from __future__ import annotations

import json
import types
import typing
from dataclasses import is_dataclass
from datetime import datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any

from core.events import field_names
from gateway.domain import outbound as out

MESSAGE_TYPES: dict[str, type] = {cls.__name__: cls for cls in typing.get_args(out.Outbound)}


class UnknownOutboundType(ValueError):
    """A stored message names a type this version does not know."""


def encode(message: out.Outbound) -> tuple[str, str]:
    """(type name, JSON) of one outbound message."""
    assert is_dataclass(message), f"not an outbound message: {message!r}"
    body = {name: _plain(getattr(message, name)) for name in field_names(type(message))}
    return type(message).__name__, json.dumps(body, sort_keys=True, separators=(",", ":"))


def decode(type_name: str, payload: str) -> out.Outbound:
    cls = MESSAGE_TYPES.get(type_name)
    if cls is None:
        raise UnknownOutboundType(type_name)
    hints = _hints(cls)
    body = json.loads(payload)
    message: out.Outbound = cls(**{name: _typed(hints[name], value) for name, value in body.items()})
    return message


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"naive datetime {value!r} in an outbound message"
        return value.isoformat()
    if isinstance(value, float):
        raise TypeError(f"float {value!r} in an outbound message")
    return value


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _typed(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(arg for arg in typing.get_args(annotation) if arg is not type(None))
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation(value)
    if annotation is Decimal:
        return Decimal(value)
    if annotation is datetime:
        return datetime.fromisoformat(value)
    return value  # str, int, bool and NewTypes of them
