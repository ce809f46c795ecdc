"""Racing transactions: row locks (PostgreSQL) and BEGIN IMMEDIATE (SQLite) keep holds exactly-once."""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from sqlalchemy import func, select

from ledger.errors import InsufficientFunds, LedgerError
from ledger.ledger import Balance, HoldView, Ledger
from ledger.models import JournalEntry
from ledger.uow import SqlUnitOfWork

UowFactory = Callable[..., SqlUnitOfWork]
RACERS = 4
RACE_TIMEOUT_S = 60.0


def _race(uow_factory: UowFactory, command: Callable[[Ledger, int], object]) -> list[object]:
    """Start RACERS transactions together; each runs command(ledger, racer) and commits."""
    start_line = threading.Barrier(RACERS, timeout=RACE_TIMEOUT_S)

    def racer(number: int) -> object:
        with uow_factory() as uow:
            start_line.wait()
            try:
                outcome = command(uow.ledger, number)
            except LedgerError as refusal:
                return type(refusal)
            uow.commit()
            return outcome

    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        futures = [pool.submit(racer, number) for number in range(RACERS)]
        return [future.result(timeout=RACE_TIMEOUT_S) for future in futures]


def _entries_of_kind(uow_factory: UowFactory, kind: str) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).where(JournalEntry.kind == kind)) or 0


def test_racing_posts_resolve_a_hold_once(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.ledger.deposit("alice", "USD", Decimal("100"), "dep-1")
        uow.ledger.lock("h1", "alice", "USD", Decimal("80"), "lock-h1")
        uow.commit()

    outcomes = _race(
        uow_factory, lambda ledger, number: ledger.post("h1", Decimal(10 + number), f"solver{number}", f"post-{number}")
    )

    assert all(isinstance(outcome, HoldView) for outcome in outcomes)
    assert len(set(outcomes)) == 1, outcomes
    winner = outcomes[0]
    assert isinstance(winner, HoldView) and winner.status == "posted"
    assert _entries_of_kind(uow_factory, "post") == 1
    with uow_factory() as uow:
        paid = [uow.ledger.balance(f"solver{number}", "USD").available for number in range(RACERS)]
        assert sorted(paid) == [Decimal(0)] * (RACERS - 1) + [winner.posted_amount]
        assert uow.ledger.check_invariants() == []


def test_racing_locks_never_overdraw(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.ledger.deposit("alice", "USD", Decimal("100"), "dep-1")
        uow.commit()

    outcomes = _race(
        uow_factory, lambda ledger, number: ledger.lock(f"h{number}", "alice", "USD", Decimal("60"), f"lock-{number}")
    )

    assert sum(isinstance(outcome, HoldView) for outcome in outcomes) == 1
    assert outcomes.count(InsufficientFunds) == RACERS - 1
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("40"), Decimal("60"))
        assert uow.ledger.check_invariants() == []


def test_racing_retries_of_one_deposit_credit_once(uow_factory: UowFactory) -> None:
    outcomes = _race(uow_factory, lambda ledger, _number: ledger.deposit("bob", "EUR", Decimal("7.5"), "dep-bob"))

    assert len(set(outcomes)) == 1 and isinstance(outcomes[0], int), outcomes
    with uow_factory() as uow:
        assert uow.ledger.balance("bob", "EUR") == Balance(Decimal("7.5"), Decimal(0))
        assert uow.ledger.check_invariants() == []
