"""Custody commands after a fill (the seed's CustodyCommand): MintStockTokens for a
buy (concurrent with settlement, never blocking it) and WithdrawToken for a sell
(the RFQ waits in WithdrawingToken until the withdrawal is confirmed).

SimulatedCustody stands in for the custody service: mints at once, confirms a
withdrawal after a configurable delay on the connector's clock."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from core.clock import Clock
from core.events import DomainEvent

MAX_PENDING_WITHDRAWALS = 10_000


@dataclass(frozen=True)
class MintStockTokens(DomainEvent):
    """A command to custody, carried on the event bus: mint tokens for shares bought."""

    symbol: str
    quantity: Decimal
    account: str


@dataclass(frozen=True)
class WithdrawToken(DomainEvent):
    """A command to custody: pull sold shares' tokens back from the bridge account."""

    symbol: str
    quantity: Decimal
    account: str


@dataclass(frozen=True)
class TokenWithdrawn(DomainEvent):
    symbol: str
    quantity: Decimal


class SimulatedCustody:
    """`tokens`: where minted and withdrawn tokens are booked (the ledger, via the connector's store)."""

    def __init__(self, clock: Clock, withdraw_delay_s: float, on_withdrawn: Callable[[int], None],
                 tokens=None) -> None:
        assert withdraw_delay_s >= 0
        self._clock = clock
        self._delay = timedelta(seconds=withdraw_delay_s)
        self._on_withdrawn = on_withdrawn
        self._tokens = tokens
        self._pending: dict[int, WithdrawToken] = {}
        self._due: dict[int, datetime] = {}
        self.minted: list[MintStockTokens] = []

    def mint(self, command: MintStockTokens) -> None:
        if self._tokens is not None:
            self._tokens.mint_tokens(command.account, command.symbol, command.quantity, command.rfq_id)
        self.minted.append(command)

    def withdraw(self, command: WithdrawToken) -> None:
        assert command.rfq_id is not None
        assert len(self._pending) < MAX_PENDING_WITHDRAWALS, "custody withdrawal queue is full"
        if command.rfq_id not in self._pending:  # a repeat changes nothing
            self._pending[command.rfq_id] = command
            self._due[command.rfq_id] = self._clock.now() + self._delay

    def on_tick(self) -> None:
        now = self._clock.now()
        for rfq_id, due in sorted(self._due.items(), key=lambda item: item[1]):
            if due <= now:
                command = self._pending.pop(rfq_id)
                del self._due[rfq_id]
                if self._tokens is not None:
                    self._tokens.burn_tokens(command.account, command.symbol, command.quantity, rfq_id)
                self._on_withdrawn(rfq_id)

    def pending(self) -> set[int]:
        return set(self._pending)
