"""Why a trading rule refused a request, in words a counterparty can act on."""
from __future__ import annotations

from dataclasses import dataclass

from gateway.domain.types import RejectReason


@dataclass(frozen=True)
class Refusal:
    reason: RejectReason
    text: str

    def __post_init__(self) -> None:
        assert self.text, "a refusal explains itself"
