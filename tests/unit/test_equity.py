"""settle_equity scenarios on SQLite and PostgreSQL: drain, borrow, limit, liquidity fund, retries, refusals."""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from ledger.equity import (
    BORROW,
    BORROW_LIABILITY,
    DRAIN,
    DRAW,
    EXCHANGE_OWNER,
    LENDING_POOL_OWNER,
    LIQUIDITY_FUND_OWNER,
    MAX_IDEMPOTENCY_KEY_LENGTH,
    PAY_BORROWED,
    USDC,
    USDC_BORROW,
    EquitySettlement,
    SettlementStep,
    fund_lending_pool,
    outstanding_borrow,
    settle_equity,
)
from ledger.errors import IdempotencyConflict, InvalidAccount, InvalidAmount
from ledger.models import JournalEntry, JournalLine, LedgerAccount
from ledger.uow import SqlUnitOfWork

UowFactory = Callable[..., SqlUnitOfWork]
ZERO = Decimal(0)
LOCK_WAIT_BOUND_S = 10.0


def _deposit(uow_factory: UowFactory, owner: str, amount: str, key: str) -> None:
    with uow_factory() as uow:
        uow.ledger.deposit(owner, USDC, Decimal(amount), key)
        uow.commit()


def _fund_pool(uow_factory: UowFactory, amount: str) -> None:
    with uow_factory() as uow:
        fund_lending_pool(uow.ledger, Decimal(amount), f"pool-{amount}")
        uow.commit()


def _settle(uow_factory: UowFactory, account: str, equity: str, limit: str, key: str) -> EquitySettlement:
    with uow_factory() as uow:
        settlement = settle_equity(uow.ledger, account, Decimal(equity), Decimal(limit), key)
        assert uow.ledger.check_invariants() == []
        uow.commit()
    return settlement


def _available(uow_factory: UowFactory, owner: str, asset: str = USDC) -> Decimal:
    with uow_factory() as uow:
        return uow.ledger.balance(owner, asset).available


def _row_counts(uow: SqlUnitOfWork) -> tuple[int, int, int]:
    session = uow.session
    return (
        session.scalar(select(func.count()).select_from(JournalEntry)) or 0,
        session.scalar(select(func.count()).select_from(JournalLine)) or 0,
        session.scalar(select(func.count()).select_from(LedgerAccount)) or 0,
    )


def _assert_healthy(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.ledger.check_invariants() == []


def test_drain_only_pays_the_exchange_from_available_usdc(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, "alice", "500", "fund-alice")
    settled = _settle(uow_factory, "alice", "-120.50", "1000", "settle-1")
    assert (settled.drained_usdc, settled.borrowed_usdc, settled.shortfall_usdc) == (Decimal("120.50"), ZERO, ZERO)
    assert (settled.drawn_usdc, settled.remaining_usdc) == (ZERO, ZERO)
    assert [(step.name, step.from_owner, step.to_owner, step.asset, step.amount) for step in settled.steps] == [
        (DRAIN, "alice", EXCHANGE_OWNER, USDC, Decimal("120.50"))
    ]
    assert _available(uow_factory, "alice") == Decimal("379.50")
    assert _available(uow_factory, EXCHANGE_OWNER) == Decimal("120.50")
    with uow_factory() as uow:
        assert outstanding_borrow(uow.ledger, "alice") == ZERO
        entry = uow.session.get(JournalEntry, settled.steps[0].entry_id)
        assert entry is not None and entry.idempotency_key == "settle-1:drain"
    _assert_healthy(uow_factory)


def test_drain_then_borrow_the_rest_from_the_lending_pool(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, "alice", "100", "fund-alice")
    _fund_pool(uow_factory, "1000")
    settled = _settle(uow_factory, "alice", "-250", "500", "settle-1")
    assert (settled.drained_usdc, settled.borrowed_usdc, settled.shortfall_usdc) == (
        Decimal("100"), Decimal("150"), ZERO,
    )
    assert [step.name for step in settled.steps] == [DRAIN, BORROW, BORROW_LIABILITY, PAY_BORROWED]
    assert [step.amount for step in settled.steps] == [Decimal("100"), Decimal("150"), Decimal("150"), Decimal("150")]
    assert len({step.entry_id for step in settled.steps}) == 4
    assert _available(uow_factory, "alice") == ZERO
    assert _available(uow_factory, "alice", USDC_BORROW) == Decimal("150")
    assert _available(uow_factory, EXCHANGE_OWNER) == Decimal("250")
    assert _available(uow_factory, LENDING_POOL_OWNER) == Decimal("850")
    assert _available(uow_factory, LENDING_POOL_OWNER, USDC_BORROW) == Decimal("850")
    with uow_factory() as uow:
        assert outstanding_borrow(uow.ledger, "alice") == Decimal("150")
    _assert_healthy(uow_factory)


def test_borrow_is_capped_at_the_limit_and_the_rest_is_shortfall(uow_factory: UowFactory) -> None:
    _fund_pool(uow_factory, "1000")
    first = _settle(uow_factory, "alice", "-40", "100", "settle-1")
    assert (first.borrowed_usdc, first.shortfall_usdc) == (Decimal("40"), ZERO)
    # The limit bounds the account's total debt: 40 is already outstanding.
    second = _settle(uow_factory, "alice", "-200", "100", "settle-2")
    assert (second.drained_usdc, second.borrowed_usdc, second.shortfall_usdc) == (ZERO, Decimal("60"), Decimal("140"))
    at_limit = _settle(uow_factory, "alice", "-10", "100", "settle-3")
    assert (at_limit.borrowed_usdc, at_limit.shortfall_usdc, at_limit.steps) == (ZERO, Decimal("10"), ())
    lowered = _settle(uow_factory, "alice", "-10", "50", "settle-4")
    assert (lowered.borrowed_usdc, lowered.shortfall_usdc) == (ZERO, Decimal("10"))
    with uow_factory() as uow:
        assert outstanding_borrow(uow.ledger, "alice") == Decimal("100")
        assert uow.ledger.balance("alice", USDC).available == ZERO
    assert _available(uow_factory, EXCHANGE_OWNER) == Decimal("100")
    _assert_healthy(uow_factory)


def test_borrow_is_capped_by_the_pool_and_dust_is_left_alone(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, "alice", "10.005", "fund-alice")
    _fund_pool(uow_factory, "30")
    settled = _settle(uow_factory, "alice", "-50", "1000", "settle-1")
    # Whole cents move: 0.005 of dust stays with alice and is not counted against the debt.
    assert (settled.drained_usdc, settled.borrowed_usdc, settled.shortfall_usdc) == (
        Decimal("10"), Decimal("30"), Decimal("10"),
    )
    assert _available(uow_factory, "alice") == Decimal("0.005")
    assert _available(uow_factory, LENDING_POOL_OWNER) == ZERO
    _assert_healthy(uow_factory)


def test_exchange_owes_and_the_liquidity_fund_covers_all(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, LIQUIDITY_FUND_OWNER, "1000", "fund-liquidity")
    settled = _settle(uow_factory, "bob", "300.25", "0", "settle-1")
    assert (settled.drawn_usdc, settled.remaining_usdc) == (Decimal("300.25"), ZERO)
    assert (settled.drained_usdc, settled.borrowed_usdc, settled.shortfall_usdc) == (ZERO, ZERO, ZERO)
    assert [(step.name, step.from_owner, step.to_owner, step.amount) for step in settled.steps] == [
        (DRAW, LIQUIDITY_FUND_OWNER, "bob", Decimal("300.25"))
    ]
    assert _available(uow_factory, "bob") == Decimal("300.25")
    assert _available(uow_factory, LIQUIDITY_FUND_OWNER) == Decimal("699.75")
    _assert_healthy(uow_factory)


def test_exchange_owes_and_the_liquidity_fund_covers_part(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, LIQUIDITY_FUND_OWNER, "80.259", "fund-liquidity")
    settled = _settle(uow_factory, "bob", "100", "0", "settle-1")
    assert (settled.drawn_usdc, settled.remaining_usdc) == (Decimal("80.25"), Decimal("19.75"))
    assert _available(uow_factory, LIQUIDITY_FUND_OWNER) == Decimal("0.009")
    empty = _settle(uow_factory, "bob", "5", "0", "settle-2")
    assert (empty.drawn_usdc, empty.remaining_usdc, empty.steps) == (ZERO, Decimal("5"), ())
    assert _available(uow_factory, "bob") == Decimal("80.25")
    _assert_healthy(uow_factory)


def test_zero_equity_writes_nothing(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, "alice", "100", "fund-alice")
    with uow_factory() as uow:
        before = _row_counts(uow)
        settled = settle_equity(uow.ledger, "alice", Decimal("0.00"), Decimal("100"), "settle-0")
        assert _row_counts(uow) == before
        uow.commit()
    assert settled == EquitySettlement("alice", ZERO, Decimal("100"), ZERO, ZERO, ZERO, ZERO, ZERO, ())
    assert _available(uow_factory, "alice") == Decimal("100")


def test_retry_returns_the_first_result_and_writes_nothing(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, "alice", "100", "fund-alice")
    _fund_pool(uow_factory, "1000")
    first = _settle(uow_factory, "alice", "-250", "500", "settle-1")
    _deposit(uow_factory, "alice", "70", "fund-alice-again")
    with uow_factory() as uow:
        before = _row_counts(uow)
        # Balances changed since, yet the retry reports what the first call did (-250.00 == -250).
        assert settle_equity(uow.ledger, "alice", Decimal("-250.00"), Decimal("500"), "settle-1") == first
        assert settle_equity(uow.ledger, "alice", Decimal("-250"), Decimal("500.0"), "settle-1") == first
        assert _row_counts(uow) == before
        conflicting = [
            ("alice", "-251", "500"),  # other amount
            ("alice", "-250", "600"),  # other limit
            ("bob", "-250", "500"),  # other account
            ("alice", "250", "500"),  # other direction
            ("alice", "0", "500"),
        ]
        for account, equity, limit in conflicting:
            with pytest.raises(IdempotencyConflict, match="settle-1:"):
                settle_equity(uow.ledger, account, Decimal(equity), Decimal(limit), "settle-1")
        assert _row_counts(uow) == before
        uow.commit()
    assert _available(uow_factory, "alice") == Decimal("70")
    assert _available(uow_factory, EXCHANGE_OWNER) == Decimal("250")
    _assert_healthy(uow_factory)


def test_retry_inside_the_same_transaction_and_key_reused_by_another_command(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, LIQUIDITY_FUND_OWNER, "50", "fund-liquidity")
    with uow_factory() as uow:
        first = settle_equity(uow.ledger, "bob", Decimal("20"), Decimal("0"), "settle-1")
        assert settle_equity(uow.ledger, "bob", Decimal("20"), Decimal("0"), "settle-1") == first
        uow.ledger.deposit("carol", USDC, Decimal("5"), "settle-2:draw")
        with pytest.raises(IdempotencyConflict, match="settle-2:draw"):
            settle_equity(uow.ledger, "carol", Decimal("5"), Decimal("0"), "settle-2")
        uow.commit()
    assert _available(uow_factory, "bob") == Decimal("20")
    assert _available(uow_factory, LIQUIDITY_FUND_OWNER) == Decimal("30")
    _assert_healthy(uow_factory)


def test_a_retried_settlement_that_moved_nothing_returns_the_first_result(uow_factory: UowFactory) -> None:
    first = _settle(uow_factory, "alice", "-50", "0", "settle-1")
    assert (first.shortfall_usdc, first.steps) == (Decimal("50"), ())
    _deposit(uow_factory, "alice", "80", "fund-alice")  # money arriving later must not change the answer
    retried = _settle(uow_factory, "alice", "-50", "0", "settle-1")
    assert retried == first
    with pytest.raises(IdempotencyConflict):
        _settle(uow_factory, "alice", "-60", "0", "settle-1")


def test_invalid_inputs_are_refused_before_writing(uow_factory: UowFactory) -> None:
    _deposit(uow_factory, "alice", "100", "fund-alice")
    bad_amounts: list[tuple[object, str]] = [
        (1.5, "must be decimal.Decimal, got float"),
        (-100, "must be decimal.Decimal, got int"),
        (True, "must be decimal.Decimal, got bool"),
        (Decimal("NaN"), "is not a finite number"),
        (Decimal("-Infinity"), "is not a finite number"),
        (Decimal("-0.001"), "must be a whole number of cents, got -0.001"),
        (Decimal("-1" + "0" * 26), "more than 26 integer digits"),
    ]
    with uow_factory() as uow:
        before = _row_counts(uow)
        ledger = uow.ledger
        for bad_amount, message in bad_amounts:
            with pytest.raises(InvalidAmount, match=f"^unsettled_equity.*{message}"):
                settle_equity(ledger, "alice", bad_amount, Decimal("10"), "k")  # type: ignore[arg-type]
            with pytest.raises(InvalidAmount, match=f"^borrow_limit.*{message}"):
                settle_equity(ledger, "alice", Decimal("-1"), bad_amount, "k")  # type: ignore[arg-type]
        with pytest.raises(InvalidAmount, match="borrow_limit must not be negative, got -0.01"):
            settle_equity(ledger, "alice", Decimal("-1"), Decimal("-0.01"), "k")
        for house in ("exchange", "lending_pool", "liquidity_fund", "external"):
            with pytest.raises(InvalidAccount, match=f"'{house}' is a house account"):
                settle_equity(ledger, house, Decimal("-1"), Decimal("10"), "k")
            with pytest.raises(InvalidAccount):
                outstanding_borrow(ledger, house)
        for bad_account in ("", "a" * 65):
            with pytest.raises(ValueError, match="account must be a non-empty string"):
                settle_equity(ledger, bad_account, Decimal("-1"), Decimal("10"), "k")
        for bad_key in ("", "k" * (MAX_IDEMPOTENCY_KEY_LENGTH + 1)):
            with pytest.raises(ValueError, match=f"idempotency_key must be .* at most {MAX_IDEMPOTENCY_KEY_LENGTH}"):
                settle_equity(ledger, "alice", Decimal("-1"), Decimal("10"), bad_key)
        assert _row_counts(uow) == before
        longest_key = "k" * MAX_IDEMPOTENCY_KEY_LENGTH
        settled = settle_equity(ledger, "alice", Decimal("-1"), Decimal("10"), longest_key)
        entry_id = settled.steps[0].entry_id
        assert settled.steps == (SettlementStep(DRAIN, "alice", EXCHANGE_OWNER, USDC, Decimal("1"), entry_id),)
        assert ledger.check_invariants() == []


def test_concurrent_settlements_never_exceed_the_borrow_limit(db_url: str, uow_factory: UowFactory) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("row locks are PostgreSQL's; SQLite serialises writers with BEGIN IMMEDIATE")
    _fund_pool(uow_factory, "1000")
    results: dict[str, EquitySettlement | BaseException] = {}

    def settle_in_thread() -> None:
        try:
            results["second"] = _settle(uow_factory, "alice", "-100", "100", "settle-2")
        except BaseException as failure:  # surfaced by the assertion below
            results["second"] = failure

    with uow_factory() as first_uow:
        first = settle_equity(first_uow.ledger, "alice", Decimal("-100"), Decimal("100"), "settle-1")
        second = threading.Thread(target=settle_in_thread)
        second.start()
        _wait_until_a_lock_is_awaited(uow_factory)
        first_uow.commit()
    second.join(LOCK_WAIT_BOUND_S)
    assert not second.is_alive()
    assert first.borrowed_usdc == Decimal("100")
    late = results["second"]
    assert isinstance(late, EquitySettlement), late
    assert (late.borrowed_usdc, late.shortfall_usdc) == (ZERO, Decimal("100"))
    with uow_factory() as uow:
        assert outstanding_borrow(uow.ledger, "alice") == Decimal("100")
    _assert_healthy(uow_factory)


def _wait_until_a_lock_is_awaited(uow_factory: UowFactory) -> None:
    """Poll pg_locks (bounded) until another transaction waits for a row lock we hold."""
    deadline = time.monotonic() + LOCK_WAIT_BOUND_S
    while time.monotonic() < deadline:
        with uow_factory() as observer:
            waiting = observer.session.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
        if waiting:
            return
        time.sleep(0.01)
    raise AssertionError(f"no transaction waited for a lock within {LOCK_WAIT_BOUND_S} s")
