"""Custody commands after a fill (the seed's CustodyCommand): MintStockTokens for a
buy (concurrent with settlement, never blocking it) and WithdrawToken for a sell
(the RFQ waits in WithdrawingToken until the withdrawal is confirmed).

SimulatedCustody stands in for the custody service: mints at once, confirms a
withdrawal after a configurable delay on the connector's clock."""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from broker.events import MintStockTokens, WithdrawToken
from broker.ports import TokenBook
from broker.refs import RfqRef
from core.clock import Clock

# Withdrawals. One per sold RFQ still waiting for custody; the solver quotes no more than its open-RFQ
# limit (the same size), so reaching this means custody stopped confirming: refuse rather than grow.
MAX_PENDING_WITHDRAWALS = 10_000
# Mint commands. Kept only so operators and tests can look at the latest; the ledger has them all.
RECENT_MINTS_KEPT = 1_000


class CustodyQueueFull(Exception):
    """Custody has MAX_PENDING_WITHDRAWALS unconfirmed withdrawals; no more are accepted."""


class SimulatedCustody:
    """`tokens`: where minted and withdrawn tokens are booked (the ledger, via the connector's store)."""

    def __init__(self, clock: Clock, withdraw_delay_s: float, on_withdrawn: Callable[[RfqRef], None],
                 tokens: TokenBook | None = None) -> None:
        if not withdraw_delay_s >= 0:
            raise ValueError(f"withdraw_delay_s must be 0 or more seconds, got {withdraw_delay_s}")
        self._clock = clock
        self._delay = timedelta(seconds=withdraw_delay_s)
        self._on_withdrawn = on_withdrawn
        self._tokens = tokens
        self._pending: dict[RfqRef, WithdrawToken] = {}
        self._due: dict[RfqRef, datetime] = {}
        self.minted: deque[MintStockTokens] = deque(maxlen=RECENT_MINTS_KEPT)

    def mint(self, command: MintStockTokens) -> None:
        if self._tokens is not None:
            self._tokens.mint_tokens(command.account, command.symbol, command.quantity, command.rfq_ref)
        self.minted.append(command)

    def withdraw(self, command: WithdrawToken) -> None:
        if command.rfq_ref in self._pending:
            return  # a repeat (e.g. after a restart) changes nothing
        if len(self._pending) >= MAX_PENDING_WITHDRAWALS:
            raise CustodyQueueFull(f"custody has {len(self._pending)} unconfirmed withdrawals; "
                                   f"refusing the one for {command.rfq_ref}")
        self._pending[command.rfq_ref] = command
        self._due[command.rfq_ref] = self._clock.now() + self._delay

    def on_tick(self) -> None:
        now = self._clock.now()
        for rfq, due in sorted(self._due.items(), key=lambda item: item[1]):
            if due <= now:
                command = self._pending.pop(rfq)
                del self._due[rfq]
                if self._tokens is not None:
                    self._tokens.burn_tokens(command.account, command.symbol, command.quantity, rfq)
                self._on_withdrawn(rfq)

    def pending(self) -> set[RfqRef]:
        return set(self._pending)
