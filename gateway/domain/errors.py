"""Domain refusals. Each carries a reason the FIX boundary maps to a reject code."""
from __future__ import annotations

from core.refusal import RejectReason
from core.state_machine import InvalidTransition


class DomainRejection(Exception):
    def __init__(self, reason: RejectReason, text: str) -> None:
        super().__init__(reason, text)  # both in args: the refusal copies and pickles intact
        self.reason = reason
        self.text = text

    def __str__(self) -> str:
        return self.text


def as_rejection(error: DomainRejection | InvalidTransition) -> DomainRejection:
    """A move the state table does not allow is refused as WRONG_STATE, like any other rejection."""
    if isinstance(error, DomainRejection):
        return error
    return DomainRejection(RejectReason.WRONG_STATE, str(error))
