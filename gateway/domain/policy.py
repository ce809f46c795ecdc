"""Static rules the engine enforces, built from configuration and reference data."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from core.refusal import Refusal
from core.types import SessionName
from ledger.margin import MarginParameters


class Role(StrEnum):
    REQUESTER = "requester"
    SOLVER = "solver"
    BOTH = "both"
    DROP_COPY = "drop_copy"  # read-only: receives a copy of every ExecutionReport and settled fill, sends nothing

    def can_request(self) -> bool:
        return self in (Role.REQUESTER, Role.BOTH)

    def can_quote(self) -> bool:
        return self in (Role.SOLVER, Role.BOTH)


DEFAULT_MAX_OPEN_RFQS = 500


@dataclass(frozen=True)
class Counterparty:
    session: SessionName
    role: Role
    account: str
    max_open_rfqs: int = DEFAULT_MAX_OPEN_RFQS  # a requester's RFQs not yet ended; more are refused "throttled"


class TradingGate(Protocol):
    """Market sessions, holidays and quantity limits (marketcal.sessions.TradingRules)."""

    def check(self, symbol: str, quantity: Decimal, at: datetime) -> Refusal | None: ...


class ComplianceGate(Protocol):
    """Stocks flag and jurisdiction rules (gateway.rules.compliance.CompliancePolicy)."""

    def authorize(self, account: str, symbol: str) -> Refusal | None: ...


@dataclass(frozen=True)
class InstrumentTerms:
    tick: Decimal = Decimal("0.01")
    submission_window_s: float | None = None  # None: the gateway default
    acceptance_window_s: float | None = None


@dataclass(frozen=True)
class MarginTerms:
    """Stocks as collateral (README "Collateral and margin"): buys beyond available USDC are
    allowed when collateral covers them at IMF; settlement borrows the rest within MMF."""

    parameters: MarginParameters
    marks: Callable[[], Mapping[str, Decimal]]  # the current mark of every symbol that has one
    # Refusal text when `account` cannot buy `quantity` of `symbol` for `cost` on margin (intake),
    # given the balances of the decision's transaction; None: it can.
    covers: Callable[[object, str, str, Decimal, Decimal], str | None] = lambda balances, account, symbol, quantity, \
        cost: "margin buying is not available"


@dataclass(frozen=True)
class GatewayPolicy:
    symbols: frozenset[str]
    counterparties: dict[SessionName, Counterparty]
    submission_window_s: float = 60.0
    acceptance_window_s: float = 120.0  # after the submission window closes
    instruments: Mapping[str, InstrumentTerms] = field(default_factory=dict)
    trading: TradingGate | None = None
    compliance: ComplianceGate | None = None
    # An accepted RFQ whose solver reports no execution within this long is failed and its holds voided.
    settlement_timeout_s: float = 300.0
    # Buys without a limit are checked against reference ask x (1 + this) for buying power.
    buying_power_buffer: Decimal = Decimal("0.05")
    reference_ask: Callable[[str], Decimal | None] = lambda symbol: None
    # The NBBO (bid, ask) when a fill is reported, kept with the fill for execution-quality reports.
    reference_nbbo: Callable[[str], tuple[Decimal, Decimal] | None] = lambda symbol: None
    margin: MarginTerms | None = None  # None: no margin, every buy is paid from available USDC

    def __post_init__(self) -> None:
        if not (self.submission_window_s > 0 and self.acceptance_window_s >= 0):
            raise ValueError(f"RFQ windows must be positive (submission {self.submission_window_s} s, "
                             f"acceptance {self.acceptance_window_s} s)")
        if self.buying_power_buffer < 0:
            raise ValueError(f"buying_power_buffer must not be negative, got {self.buying_power_buffer}")

    def terms(self, symbol: str) -> InstrumentTerms:
        return self.instruments.get(symbol, InstrumentTerms())

    def submission_window(self, symbol: str) -> timedelta:
        seconds = self.terms(symbol).submission_window_s
        return timedelta(seconds=self.submission_window_s if seconds is None else seconds)

    def total_window(self, symbol: str) -> timedelta:
        seconds = self.terms(symbol).acceptance_window_s
        acceptance = self.acceptance_window_s if seconds is None else seconds
        return self.submission_window(symbol) + timedelta(seconds=acceptance)

    @property
    def settlement_timeout(self) -> timedelta:
        return timedelta(seconds=self.settlement_timeout_s)

    def is_on_tick(self, symbol: str, price: Decimal) -> bool:
        tick = self.terms(symbol).tick
        return price % tick == 0

    def counterparty(self, session: SessionName) -> Counterparty | None:
        return self.counterparties.get(session)

    def drop_copy_sessions(self) -> tuple[SessionName, ...]:
        """The read-only sessions that receive a copy of every execution (gateway/handlers/drop_copy.py)."""
        return tuple(sorted(session for session, party in self.counterparties.items()
                            if party.role is Role.DROP_COPY))
