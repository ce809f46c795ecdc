"""What the broker needs from its collaborators, as Protocols (ports).

The solver, the order manager and custody depend on these, not on the SQL store, the market
calendar or a custody service; tests pass in-memory stand-ins."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from broker.events import MintStockTokens, WithdrawToken
from broker.orders import ExecutedFill, PlacedOrder
from broker.refs import RfqRef
from broker.state import BrokerRfq
from core.events import DomainEvent
from core.refusal import Refusal
from core.types import Side


class PriceSource(Protocol):
    def reference(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """(bid, ask) reference prices, or None when no fresh price exists."""


class SessionCalendar(Protocol):
    def session_at(self, at: datetime) -> StrEnum | None:
        """The market session in progress at `at`, or None when the market is closed."""


class TradingGate(Protocol):
    """The market's rules (marketcal's TradingRules): the broker gates itself like the gateway does."""

    @property
    def calendar(self) -> SessionCalendar: ...

    def check(self, symbol: str, quantity: Decimal, at: datetime) -> Refusal | None:
        """Why an RFQ for `quantity` of `symbol` at `at` is refused, or None."""


class OrderStore(Protocol):
    """Where venue orders and their fills are committed before anything is sent about them."""

    def save_new_order(self, order: PlacedOrder, events: Sequence[DomainEvent] = ()) -> None: ...

    def save_order(self, order: PlacedOrder, fill: ExecutedFill | None = None,
                   events: Sequence[DomainEvent] = ()) -> None: ...


@dataclass(frozen=True)
class QuoteRecord:
    """A quote as sent, committed before sending: an acceptance after a restart executes at its terms."""

    quote_id: str
    quote_req_id: str
    symbol: str
    side: Side  # the requester's side
    quantity: Decimal
    bid: Decimal
    ask: Decimal
    margin_bps: Decimal
    valid_until: datetime


class RfqStore(Protocol):
    """Where the broker's won RFQs and its quotes are committed, and found again after a restart."""

    def save_quote(self, quote: QuoteRecord, at: datetime) -> None: ...

    def load_quote(self, quote_id: str) -> QuoteRecord | None: ...

    def save_rfq(self, rfq: BrokerRfq, events: Sequence[DomainEvent] = ()) -> None: ...

    def open_rfqs(self) -> list[BrokerRfq]: ...

    def orders_of(self, rfq_refs: Sequence[RfqRef]) -> list[PlacedOrder]: ...

    def knows_acceptance(self, quote_resp_id: str) -> bool:
        """Whether an RFQ was already won under this QuoteRespID (open or finished)."""


class TokenBook(Protocol):
    """Where custody books tokens: they exist exactly while the shares sit at custody."""

    def mint_tokens(self, account: str, symbol: str, quantity: Decimal, rfq: RfqRef) -> None: ...

    def burn_tokens(self, account: str, symbol: str, quantity: Decimal, rfq: RfqRef) -> None: ...


class Custody(Protocol):
    """Custody commands after a fill (the seed's CustodyCommand)."""

    def mint(self, command: MintStockTokens) -> None:
        """Shares bought: mint their tokens (concurrent with settlement, never blocking it)."""

    def withdraw(self, command: WithdrawToken) -> None:
        """Shares sold: withdraw their tokens; the solver is told when custody confirms."""
