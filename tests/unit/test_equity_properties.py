"""Stateful property test: random settle_equity sequences (random balances, limits, reused keys and
aborted transactions) on SQLite, checked against a plain-Python model, the bounds of each step and
the ledger's own invariant audit."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from sqlalchemy import func, select

from ledger.equity import (
    EXCHANGE_OWNER,
    LENDING_POOL_OWNER,
    LIQUIDITY_FUND_OWNER,
    USDC,
    USDC_BORROW,
    EquitySettlement,
    fund_lending_pool,
    outstanding_borrow,
    settle_equity,
)
from ledger.errors import IdempotencyConflict
from ledger.ledger import EXTERNAL_OWNER
from ledger.models import JournalEntry
from ledger.uow import SqlUnitOfWork
from tests.state_machines import SqliteExampleMachine, migrated_template, run_machine

ACCOUNTS = ("alice", "bob")
CENT = Decimal("0.01")
ZERO = Decimal(0)
# Deposits carry sub-cent dust now and then: settlement must move whole cents only.
deposits = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("300"), places=3)
equities = st.decimals(min_value=Decimal("-400"), max_value=Decimal("400"), places=2)
limits = st.decimals(min_value=ZERO, max_value=Decimal("300"), places=2)


def _floor_cents(value: Decimal) -> Decimal:
    return max(ZERO, value).quantize(CENT, rounding=ROUND_FLOOR)


@dataclass(frozen=True)
class SettleCall:
    account: str
    equity: Decimal
    limit: Decimal
    key: str


@dataclass
class Model:
    """Balances the ledger should hold and the settlements it has recorded, computed directly."""

    usdc: dict[str, Decimal] = field(default_factory=dict)
    borrow: dict[str, Decimal] = field(default_factory=dict)
    recorded: dict[str, tuple[SettleCall, EquitySettlement]] = field(default_factory=dict)

    def get(self, owner: str) -> Decimal:
        return self.usdc.get(owner, ZERO)

    def add(self, owner: str, amount: Decimal) -> None:
        self.usdc[owner] = self.get(owner) + amount

    def expected_amounts(self, call: SettleCall) -> tuple[Decimal, Decimal, Decimal]:
        """(drained, borrowed, drawn) the ledger must report for a call not recorded before."""
        if call.equity < 0:
            owed = -call.equity
            drained = min(owed, _floor_cents(self.get(call.account)))
            headroom = _floor_cents(call.limit - self.borrow.get(call.account, ZERO))
            pool_capacity = self.borrow.get(LENDING_POOL_OWNER, ZERO)
            pool = min(_floor_cents(self.get(LENDING_POOL_OWNER)), _floor_cents(pool_capacity))
            return drained, min(owed - drained, headroom, pool), ZERO
        if call.equity > 0:
            return ZERO, ZERO, min(call.equity, _floor_cents(self.get(LIQUIDITY_FUND_OWNER)))
        return ZERO, ZERO, ZERO

    def apply(self, call: SettleCall, result: EquitySettlement) -> None:
        self.add(call.account, -result.drained_usdc + result.drawn_usdc)
        self.add(EXCHANGE_OWNER, result.drained_usdc + result.borrowed_usdc)
        self.add(LENDING_POOL_OWNER, -result.borrowed_usdc)
        self.add(LIQUIDITY_FUND_OWNER, -result.drawn_usdc)
        self.borrow[call.account] = self.borrow.get(call.account, ZERO) + result.borrowed_usdc
        self.borrow[LENDING_POOL_OWNER] = self.borrow.get(LENDING_POOL_OWNER, ZERO) - result.borrowed_usdc
        if result.steps:
            self.recorded[call.key] = (call, result)


class EquityMachine(SqliteExampleMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.external = ZERO  # total deposited; the external counterpart holds minus this per asset
        self.external_borrow = ZERO

    def _entry_count(self, uow: SqlUnitOfWork) -> int:
        return uow.session.scalar(select(func.count()).select_from(JournalEntry)) or 0

    @rule(owner=st.sampled_from((*ACCOUNTS, LIQUIDITY_FUND_OWNER)), amount=deposits)
    def deposit(self, owner: str, amount: Decimal) -> None:
        with SqlUnitOfWork(self.sessions) as uow:
            uow.ledger.deposit(owner, USDC, amount, self._fresh("deposit-"))
            uow.commit()
        self.model.add(owner, amount)
        self.external += amount

    @rule(amount=deposits)
    def fund_pool(self, amount: Decimal) -> None:
        with SqlUnitOfWork(self.sessions) as uow:
            fund_lending_pool(uow.ledger, amount, self._fresh("pool-"))
            uow.commit()
        self.model.add(LENDING_POOL_OWNER, amount)
        self.model.borrow[LENDING_POOL_OWNER] = self.model.borrow.get(LENDING_POOL_OWNER, ZERO) + amount
        self.external += amount
        self.external_borrow += amount

    @rule(account=st.sampled_from(ACCOUNTS), equity=equities, limit=limits)
    def settle_fresh(self, account: str, equity: Decimal, limit: Decimal) -> None:
        self._settle(SettleCall(account, equity, limit, self._fresh("settle-")), commit=True)

    @rule(data=st.data())
    def retry_recorded(self, data: st.DataObject) -> None:
        if self.model.recorded:
            key = data.draw(st.sampled_from(sorted(self.model.recorded)), label="key")
            self._settle(self.model.recorded[key][0], commit=True)

    @rule(data=st.data(), account=st.sampled_from(ACCOUNTS), equity=equities, limit=limits)
    def reuse_recorded_key_with_other_inputs(
        self, data: st.DataObject, account: str, equity: Decimal, limit: Decimal
    ) -> None:
        if self.model.recorded:
            key = data.draw(st.sampled_from(sorted(self.model.recorded)), label="key")
            self._settle(SettleCall(account, equity, limit, key), commit=True)

    @rule(account=st.sampled_from(ACCOUNTS), equity=equities, limit=limits)
    def abort_settlement(self, account: str, equity: Decimal, limit: Decimal) -> None:
        """A settlement whose transaction is rolled back changes nothing."""
        self._settle(SettleCall(account, equity, limit, self._fresh("aborted-")), commit=False)

    def _settle(self, call: SettleCall, commit: bool) -> None:
        recorded = self.model.recorded.get(call.key)
        with SqlUnitOfWork(self.sessions) as uow:
            entries_before = self._entry_count(uow)
            borrow_before = outstanding_borrow(uow.ledger, call.account)
            if recorded is not None and replace(recorded[0], key=call.key) != call:
                with pytest.raises(IdempotencyConflict):
                    settle_equity(uow.ledger, call.account, call.equity, call.limit, call.key)
                assert self._entry_count(uow) == entries_before
                return
            result = settle_equity(uow.ledger, call.account, call.equity, call.limit, call.key)
            assert uow.ledger.check_invariants() == []
            if recorded is not None:
                assert result == recorded[1]
                assert self._entry_count(uow) == entries_before
                return
            self._check_fresh_result(call, result, borrow_before)
            assert self._entry_count(uow) == entries_before + len(result.steps)
            if commit:
                uow.commit()
        if commit:
            self.model.apply(call, result)

    def _check_fresh_result(self, call: SettleCall, result: EquitySettlement, borrow_before: Decimal) -> None:
        drained, borrowed, drawn = self.model.expected_amounts(call)
        assert (result.drained_usdc, result.borrowed_usdc, result.drawn_usdc) == (drained, borrowed, drawn)
        owed_by_account, owed_by_exchange = max(ZERO, -call.equity), max(ZERO, call.equity)
        assert result.drained_usdc + result.borrowed_usdc + result.shortfall_usdc == owed_by_account
        assert result.drawn_usdc + result.remaining_usdc == owed_by_exchange
        amounts = (result.drained_usdc, result.borrowed_usdc, result.shortfall_usdc, result.drawn_usdc,
                   result.remaining_usdc)
        assert all(amount >= 0 and amount == amount.quantize(CENT) for amount in amounts), result
        assert result.borrowed_usdc == 0 or borrow_before + result.borrowed_usdc <= call.limit
        assert all(step.amount > 0 for step in result.steps)

    @invariant()
    def ledger_matches_model_and_audit(self) -> None:
        with SqlUnitOfWork(self.sessions) as uow:
            ledger = uow.ledger
            assert ledger.check_invariants() == []
            for owner in (*ACCOUNTS, EXCHANGE_OWNER, LENDING_POOL_OWNER, LIQUIDITY_FUND_OWNER):
                usdc = ledger.balance(owner, USDC).available
                assert usdc == self.model.get(owner) and usdc >= 0, owner
                assert ledger.balance(owner, USDC_BORROW).available == self.model.borrow.get(owner, ZERO), owner
            for account in ACCOUNTS:
                assert outstanding_borrow(ledger, account) == self.model.borrow.get(account, ZERO)
            assert ledger.balance(EXTERNAL_OWNER, USDC).available == -self.external
            assert ledger.balance(EXTERNAL_OWNER, USDC_BORROW).available == -self.external_borrow


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory, "equity-template")


def test_random_settlement_sequences_keep_the_ledger_consistent(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_machine(EquityMachine, template_db, tmp_path_factory.mktemp("equity-examples"), max_examples=30, steps=15)
