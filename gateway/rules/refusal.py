"""Why a trading rule refused a request, in words a counterparty can act on."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from gateway.domain.types import RejectReason


@dataclass(frozen=True)
class Refusal:
    reason: RejectReason
    text: str

    def __post_init__(self) -> None:
        assert self.text, "a refusal explains itself"


def plain(value: Decimal) -> str:
    """A decimal as people write it: 100 not 1E+2, 0.5 not 0.50."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text
