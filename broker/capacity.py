"""The broker checks its own balances: it never quotes a size its ledger position cannot deliver,
and checks again before it reports a fill (README "Collateral and margin", broker balance checks).

A requester's buy is delivered in shares (the broker's ledger shares of the symbol); a requester's
sell is paid in USDC (the broker's USDC plus its configured borrowing capacity). At quote time only
available balances count (held ones back other RFQs); at report time the hold the gateway took at
acceptance is the broker's too, so available + locked must cover the fill."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext
from typing import Protocol

from core.money import CASH_ASSET, MONEY_CONTEXT
from core.types import Side


class LedgerBalances(Protocol):
    def balance_of(self, account: str, asset: str) -> tuple[Decimal, Decimal]:
        """(available, locked) of the account's asset in the settlement ledger."""


@dataclass(frozen=True)
class Capacity:
    balances: LedgerBalances
    account: str
    borrow_capacity_usdc: Decimal = Decimal(0)

    def why_not_quote(self, requester_side: Side, symbol: str, quantity: Decimal, bid: Decimal) -> str | None:
        """Why the broker cannot deliver this quote's size (None: it can)."""
        if requester_side is Side.BUY:
            shares, _ = self.balances.balance_of(self.account, symbol)
            return None if shares >= quantity else f"only {shares} {symbol} to deliver, {quantity} requested"
        cash, _ = self.balances.balance_of(self.account, CASH_ASSET)
        with localcontext(MONEY_CONTEXT):
            needed, usable = bid * quantity, cash + self.borrow_capacity_usdc
        return None if usable >= needed else f"only {usable} {CASH_ASSET} to pay, {needed} needed"

    def why_not_report(self, requester_side: Side, symbol: str, quantity: Decimal, price: Decimal) -> str | None:
        """Why the broker cannot settle a fill of `quantity` at `price` (None: it can)."""
        asset = symbol if requester_side is Side.BUY else CASH_ASSET
        available, locked = self.balances.balance_of(self.account, asset)
        with localcontext(MONEY_CONTEXT):
            needed = quantity if requester_side is Side.BUY else price * quantity
            usable = available + locked + (self.borrow_capacity_usdc if asset == CASH_ASSET else 0)
        return None if usable >= needed else f"cannot deliver {needed} {asset}: holds {usable}"
