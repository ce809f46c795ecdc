"""DomainEvent.payload gives what `dataclasses.asdict` gave (nested dataclasses as dicts, the
top-level Decimals and datetimes as text) without its deep copy."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, NamedTuple

from core.events import DomainEvent, _plain
from core.types import RfqId


@dataclass(frozen=True)
class _Leg:
    asset: str
    amount: Decimal


class _Pair(NamedTuple):
    bid: Decimal
    ask: Decimal


@dataclass(frozen=True)
class _Everything(DomainEvent):
    price: Decimal = Decimal("228.01")
    at: datetime = datetime(2026, 11, 29, 15, 0, tzinfo=timezone.utc)
    leg: _Leg = _Leg("USDC", Decimal("2280.10"))
    legs: tuple[_Leg, ...] = (_Leg("AAPL", Decimal(10)), _Leg("USDC", Decimal("-2280.1")))
    names: list[str] = field(default_factory=lambda: ["a", "b"])
    nbbo: _Pair = _Pair(Decimal("228.00"), Decimal("228.02"))
    by_asset: dict[str, Any] = field(default_factory=lambda: {"USDC": _Leg("USDC", Decimal(1)), "n": [1, 2]})
    note: str | None = None


def test_payload_is_what_asdict_gave() -> None:
    event = _Everything(rfq_id=RfqId(7), occurred_at=datetime(2026, 11, 29, 15, 0, 1, tzinfo=timezone.utc))
    expected = {key: _plain(value) for key, value in asdict(event).items()}
    assert event.payload() == expected
    assert event.payload()["leg"] == {"asset": "USDC", "amount": Decimal("2280.10")}
    assert isinstance(event.payload()["nbbo"], _Pair)
