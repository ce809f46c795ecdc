"""Domain refusals. Each carries a reason the FIX boundary maps to a reject code."""
from __future__ import annotations

from gateway.domain.types import RejectReason


class DomainRejection(Exception):
    def __init__(self, reason: RejectReason, text: str) -> None:
        super().__init__(text)
        self.reason = reason
        self.text = text


class InvalidTransition(DomainRejection):
    def __init__(self, state: str, trigger: str) -> None:
        super().__init__(RejectReason.WRONG_STATE, f"cannot {trigger} an RFQ in state {state}")
        self.state = state
        self.trigger = trigger
