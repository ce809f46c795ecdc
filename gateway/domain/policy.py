"""Static rules the engine enforces, built from configuration."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from gateway.domain.types import SessionName


class Role(StrEnum):
    REQUESTER = "requester"
    SOLVER = "solver"
    BOTH = "both"

    def can_request(self) -> bool:
        return self in (Role.REQUESTER, Role.BOTH)

    def can_quote(self) -> bool:
        return self in (Role.SOLVER, Role.BOTH)


@dataclass(frozen=True)
class Counterparty:
    session: SessionName
    role: Role
    account: str


@dataclass(frozen=True)
class GatewayPolicy:
    symbols: frozenset[str]
    counterparties: dict[SessionName, Counterparty]
    submission_window_s: float = 60.0
    acceptance_window_s: float = 120.0  # after the submission window closes

    def __post_init__(self) -> None:
        assert self.submission_window_s > 0 and self.acceptance_window_s >= 0

    @property
    def submission_window(self) -> timedelta:
        return timedelta(seconds=self.submission_window_s)

    @property
    def total_window(self) -> timedelta:
        return timedelta(seconds=self.submission_window_s + self.acceptance_window_s)

    def counterparty(self, session: SessionName) -> Counterparty | None:
        return self.counterparties.get(session)
