"""USDC lends, borrow repayment and post-trade equity bounded by maintenance margin.

A lend is USDC an account has put into the lending pool: its USDC moves to the pool, the pool
gains the same lending capacity (USDC_BORROW) and the account a USDC_LEND receipt. Redeeming
reverses the three. Repaying a borrow reverses settle_equity's borrow steps: the account's USDC
back to the pool, and its USDC_BORROW (its debt) back to the pool's capacity.

`settle_post_trade` is what settlement runs, in the settlement's transaction, for an account left
owing USDC: drain its available USDC, redeem its lends, then borrow -- capped so the account's
total borrow stays within its collateral at MMF (not IMF: IMF governed the entry). Every step is
an idempotent ledger entry keyed from the caller's key.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Context, Decimal, localcontext

import structlog
from sqlalchemy import select

from core.money import CASH_ASSET, CENT, EXACT_CONTEXT
from ledger.equity import (
    HOUSE_OWNERS,
    LENDING_POOL_OWNER,
    USDC_BORROW,
    EquitySettlement,
    settle_equity,
)
from ledger.ledger import EXTERNAL_OWNER, Ledger
from ledger.margin import USDC_LEND, AccountSnapshot, MarginParameters, assess, max_borrow_at
from ledger.models import LedgerAccount

__all__ = ["PostTradeSettlement", "accounts_with_borrow", "lend_usdc", "redeem_lends", "repay_borrow",
           "settle_post_trade", "snapshot_of"]

log = structlog.get_logger(__name__)

ZERO = Decimal(0)
CASH_LIKE = frozenset({CASH_ASSET, USDC_LEND, USDC_BORROW})


def _floor_cents(value: Decimal) -> Decimal:
    with localcontext(Context(prec=80, rounding=ROUND_FLOOR)):
        return max(ZERO, value).quantize(CENT, rounding=ROUND_FLOOR)


def snapshot_of(ledger: Ledger, account: str) -> AccountSnapshot:
    """The account's holdings (available + locked) from its ledger accounts."""
    rows = ledger.session.scalars(select(LedgerAccount).where(LedgerAccount.owner == account)).all()
    totals = {row.asset: row.available + row.locked for row in rows}
    positions = {asset: amount for asset, amount in totals.items() if asset not in CASH_LIKE and amount != 0}
    return AccountSnapshot(account=account, usdc=totals.get(CASH_ASSET, ZERO), usdc_lent=totals.get(USDC_LEND, ZERO),
                           borrowed=totals.get(USDC_BORROW, ZERO), positions=positions)


def accounts_with_borrow(ledger: Ledger) -> list[str]:
    """Accounts owing USDC to the lending pool: the only ones that can fall below MMF."""
    # Filtered here, not in SQL: SQLite keeps amounts as text, which compares above any number.
    rows = ledger.session.scalars(select(LedgerAccount).where(LedgerAccount.asset == USDC_BORROW)
                                  .order_by(LedgerAccount.owner)).all()
    return [row.owner for row in rows if row.available > 0 and row.owner not in HOUSE_OWNERS]


def lend_usdc(ledger: Ledger, account: str, amount: Decimal, idempotency_key: str) -> None:
    """Lend `amount` of the account's available USDC to the pool (config seeds these)."""
    ledger.transfer(account, LENDING_POOL_OWNER, CASH_ASSET, amount, f"{idempotency_key}:usdc",
                    f"lend USDC from {account}")
    ledger.deposit(LENDING_POOL_OWNER, USDC_BORROW, amount, f"{idempotency_key}:capacity")
    ledger.deposit(account, USDC_LEND, amount, f"{idempotency_key}:receipt")


def redeem_lends(ledger: Ledger, account: str, up_to: Decimal, idempotency_key: str) -> Decimal:
    """Redeem up to `up_to` of the account's lends (whole cents, limited by the pool's free cash and
    capacity); returns the amount redeemed (0: nothing written)."""
    balances = ledger.lock_balances([(account, USDC_LEND), (LENDING_POOL_OWNER, CASH_ASSET),
                                     (LENDING_POOL_OWNER, USDC_BORROW)])
    amount = _floor_cents(min(up_to, balances[(account, USDC_LEND)].available,
                              balances[(LENDING_POOL_OWNER, CASH_ASSET)].available,
                              balances[(LENDING_POOL_OWNER, USDC_BORROW)].available))
    if ledger.recorded_entry(f"{idempotency_key}:redeem_usdc") is not None:
        entry = ledger.recorded_entry(f"{idempotency_key}:redeem_usdc")
        assert entry is not None
        return max(line.amount for line in entry.lines)
    if amount <= 0:
        return ZERO
    ledger.transfer(account, EXTERNAL_OWNER, USDC_LEND, amount, f"{idempotency_key}:redeem_receipt",
                    f"redeem USDC lend of {account}")
    ledger.transfer(LENDING_POOL_OWNER, EXTERNAL_OWNER, USDC_BORROW, amount, f"{idempotency_key}:redeem_capacity",
                    f"redeem USDC lend of {account}")
    ledger.transfer(LENDING_POOL_OWNER, account, CASH_ASSET, amount, f"{idempotency_key}:redeem_usdc",
                    f"redeem USDC lend of {account}")
    return amount


def repay_borrow(ledger: Ledger, account: str, up_to: Decimal | None, idempotency_key: str) -> Decimal:
    """Repay the account's borrow from its available USDC (at most `up_to`; None: as much as it can).
    Returns the amount repaid, in whole cents (0: nothing written)."""
    recorded = ledger.recorded_entry(f"{idempotency_key}:repay_usdc")
    if recorded is not None:
        return max(line.amount for line in recorded.lines)
    if ledger.balance(account, USDC_BORROW).available <= 0:
        return ZERO  # nothing borrowed (read without creating the account); checked again under the lock
    balances = ledger.lock_balances([(account, CASH_ASSET), (account, USDC_BORROW)])
    limit = balances[(account, USDC_BORROW)].available if up_to is None else up_to
    amount = _floor_cents(min(limit, balances[(account, CASH_ASSET)].available,
                              balances[(account, USDC_BORROW)].available))
    if amount <= 0:
        return ZERO
    ledger.transfer(account, LENDING_POOL_OWNER, CASH_ASSET, amount, f"{idempotency_key}:repay_usdc",
                    f"repay USDC borrow of {account}")
    ledger.transfer(account, LENDING_POOL_OWNER, USDC_BORROW, amount, f"{idempotency_key}:repay_liability",
                    f"repay USDC borrow of {account}")
    log.info("borrow_repaid", account=account, amount=str(amount), idempotency_key=idempotency_key)
    return amount


@dataclass(frozen=True)
class PostTradeSettlement:
    redeemed_usdc: Decimal
    equity: EquitySettlement


def settle_post_trade(ledger: Ledger, account: str, unsettled_equity: Decimal, marks: Mapping[str, Decimal],
                      parameters: MarginParameters, idempotency_key: str) -> PostTradeSettlement:
    """Drain, redeem lends, then borrow within MMF (see the module docstring)."""
    redeemed = ZERO
    if unsettled_equity < 0:
        available = ledger.available(account, CASH_ASSET)
        with localcontext(EXACT_CONTEXT):
            beyond_cash = -unsettled_equity - _floor_cents(available)
        if beyond_cash > 0:
            redeemed = redeem_lends(ledger, account, beyond_cash, f"{idempotency_key}:lend")
    margin = assess(snapshot_of(ledger, account), marks, parameters)
    # The borrow pays for what the cash could not: collateral left is the stock (cash is drained).
    stock_only = assess(AccountSnapshot(account, positions=dict(snapshot_of(ledger, account).positions)),
                        marks, parameters)
    borrow_limit = max_borrow_at(stock_only, margin.mmf)
    equity = settle_equity(ledger, account, unsettled_equity, borrow_limit, idempotency_key)
    return PostTradeSettlement(redeemed, equity)
