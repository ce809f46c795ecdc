"""Ledger scenarios on SQLite and PostgreSQL: deposits, holds, idempotency, refusals, exactness."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from ledger.errors import (
    HoldExceeded,
    HoldNotFound,
    IdempotencyConflict,
    InsufficientFunds,
    InvalidAccount,
    InvalidAmount,
)
from ledger.ledger import Balance, HoldView
from ledger.models import Hold, JournalEntry, JournalLine
from ledger.uow import SqlUnitOfWork

UowFactory = Callable[..., SqlUnitOfWork]
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _fund(uow_factory: UowFactory, owner: str, amount: str, asset: str = "USD") -> None:
    with uow_factory() as uow:
        uow.ledger.deposit(owner, asset, Decimal(amount), f"fund:{owner}:{asset}:{amount}")
        uow.commit()


def _counts(uow: SqlUnitOfWork) -> tuple[int, int, int]:
    session = uow.session
    return (
        session.scalar(select(func.count()).select_from(JournalEntry)) or 0,
        session.scalar(select(func.count()).select_from(JournalLine)) or 0,
        session.scalar(select(func.count()).select_from(Hold)) or 0,
    )


def _assert_healthy(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        assert uow.ledger.check_invariants() == []


def test_deposit_credits_owner_and_debits_external(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        entry_id = uow.ledger.deposit("alice", "USD", Decimal("250.50"), "dep-1")
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("250.5"), Decimal(0))
        assert uow.ledger.balance("external", "USD") == Balance(Decimal("-250.5"), Decimal(0))
        assert uow.ledger.balance("nobody", "USD") == Balance(Decimal(0), Decimal(0))
        entry = uow.session.get(JournalEntry, entry_id)
        assert entry is not None and entry.kind == "deposit"
        assert uow.ledger.check_invariants() == []


def test_deposit_retry_returns_first_entry_without_writing(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        first = uow.ledger.deposit("alice", "USD", Decimal("10"), "dep-1")
        uow.commit()
    with uow_factory() as uow:
        before = _counts(uow)
        assert uow.ledger.deposit("alice", "USD", Decimal("10.00"), "dep-1") == first
        assert _counts(uow) == before
        with pytest.raises(IdempotencyConflict):
            uow.ledger.deposit("alice", "USD", Decimal("11"), "dep-1")
        with pytest.raises(IdempotencyConflict):
            uow.ledger.transfer("alice", "bob", "USD", Decimal("10"), "dep-1", "reused key")
        assert uow.ledger.balance("alice", "USD").available == Decimal("10")


def test_lock_then_full_post_pays_beneficiary(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "1000")
    with uow_factory() as uow:
        held = uow.ledger.lock("h1", "alice", "USD", Decimal("400"), "lock-h1", rfq_id=7)
        assert held == HoldView("h1", "alice", "USD", Decimal("400"), "pending", None, None)
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("600"), Decimal("400"))
        uow.commit()
    with uow_factory() as uow:
        posted = uow.ledger.post("h1", Decimal("400"), "bob", "post-h1")
        uow.commit()
    assert posted == HoldView("h1", "alice", "USD", Decimal("400"), "posted", Decimal("400"), Decimal(0))
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("600"), Decimal(0))
        assert uow.ledger.balance("bob", "USD") == Balance(Decimal("400"), Decimal(0))
        entries = uow.session.scalars(select(JournalEntry).where(JournalEntry.hold_id == "h1")).all()
        assert sorted(entry.kind for entry in entries) == ["lock", "post"]
        assert all(entry.rfq_id == 7 for entry in entries)
    _assert_healthy(uow_factory)


def test_partial_post_releases_the_rest_to_the_owner(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "1000")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("400"), "lock-h1")
        posted = uow.ledger.post("h1", Decimal("123.45"), "bob", "post-h1")
        uow.commit()
    assert posted.posted_amount == Decimal("123.45")
    assert posted.released_amount == Decimal("276.55")
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("876.55"), Decimal(0))
        assert uow.ledger.balance("bob", "USD") == Balance(Decimal("123.45"), Decimal(0))
    _assert_healthy(uow_factory)


def test_void_releases_the_whole_hold(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1")
        voided = uow.ledger.void("h1", "void-h1")
        uow.commit()
    assert voided == HoldView("h1", "alice", "USD", Decimal("60"), "voided", Decimal(0), Decimal("60"))
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("100"), Decimal(0))
    _assert_healthy(uow_factory)


def test_retried_commands_return_first_result_and_write_nothing(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        first_lock = uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1")
        first_post = uow.ledger.post("h1", Decimal("50"), "bob", "post-h1")
        uow.commit()
    with uow_factory() as uow:
        before = _counts(uow)
        assert uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1") == first_lock
        assert uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1-retry") == first_lock
        assert uow.ledger.post("h1", Decimal("50"), "bob", "post-h1") == first_post
        assert _counts(uow) == before
        with pytest.raises(IdempotencyConflict):
            uow.ledger.lock("h1", "alice", "USD", Decimal("61"), "lock-h1-other")
        with pytest.raises(IdempotencyConflict):
            uow.ledger.lock("h2", "alice", "USD", Decimal("1"), "lock-h1")
    _assert_healthy(uow_factory)


def test_hold_resolves_at_most_once(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1")
        uow.ledger.lock("h2", "alice", "USD", Decimal("30"), "lock-h2")
        first_post = uow.ledger.post("h1", Decimal("20"), "bob", "post-h1")
        first_void = uow.ledger.void("h2", "void-h2")
        uow.commit()
    with uow_factory() as uow:
        before = _counts(uow)
        assert uow.ledger.post("h1", Decimal("60"), "carol", "post-h1-again") == first_post
        assert uow.ledger.void("h1", "void-h1") == first_post
        assert uow.ledger.post("h2", Decimal("30"), "bob", "post-h2") == first_void
        assert uow.ledger.post("h1", Decimal("999"), "bob", "post-h1-huge") == first_post
        assert _counts(uow) == before
        assert uow.ledger.balance("carol", "USD") == Balance(Decimal(0), Decimal(0))
        assert uow.ledger.balance("bob", "USD") == Balance(Decimal("20"), Decimal(0))
        with pytest.raises(IdempotencyConflict):
            uow.ledger.void("h2", "post-h1")
    _assert_healthy(uow_factory)


def test_post_more_than_locked_is_refused(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1")
        uow.commit()
    with uow_factory() as uow:
        before = _counts(uow)
        with pytest.raises(HoldExceeded) as refused:
            uow.ledger.post("h1", Decimal("60.000000000001"), "bob", "post-h1")
        assert refused.value.locked == Decimal("60")
        assert _counts(uow) == before
        assert uow.ledger.hold("h1").status == "pending"
        assert uow.ledger.post("h1", Decimal("60"), "bob", "post-h1").status == "posted"
        uow.commit()
    _assert_healthy(uow_factory)


def test_insufficient_funds_is_refused_without_writes(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("70"), "lock-h1")
        before = _counts(uow)
        with pytest.raises(InsufficientFunds) as refused:
            uow.ledger.lock("h2", "alice", "USD", Decimal("30.01"), "lock-h2")
        assert refused.value.available == Decimal("30")
        with pytest.raises(InsufficientFunds):
            uow.ledger.transfer("alice", "bob", "USD", Decimal("30.01"), "t-1", "too much")
        with pytest.raises(InsufficientFunds):
            uow.ledger.lock("h3", "bob", "USD", Decimal("1"), "lock-h3")
        assert _counts(uow) == before
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("30"), Decimal("70"))
        uow.ledger.lock("h2", "alice", "USD", Decimal("30"), "lock-h2")
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal(0), Decimal("100"))
        assert uow.ledger.check_invariants() == []


def test_unknown_hold_and_bad_arguments_are_refused(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        with pytest.raises(HoldNotFound):
            uow.ledger.post("missing", Decimal("1"), "bob", "post-missing")
        with pytest.raises(HoldNotFound):
            uow.ledger.void("missing", "void-missing")
        bad_amounts: list[object] = [
            Decimal(0), Decimal("-1"), Decimal("NaN"), Decimal("Infinity"), 1.5, 1, Decimal("0.0000000000001"),
        ]
        for bad_amount in bad_amounts:
            with pytest.raises(InvalidAmount):
                uow.ledger.lock("h1", "alice", "USD", bad_amount, "lock-h1")  # type: ignore[arg-type]
        with pytest.raises(InvalidAccount):
            uow.ledger.deposit("external", "USD", Decimal("1"), "dep-external")
        with pytest.raises(InvalidAccount):
            uow.ledger.lock("h1", "external", "USD", Decimal("1"), "lock-external")
        with pytest.raises(InvalidAccount):
            uow.ledger.transfer("alice", "alice", "USD", Decimal("1"), "t-self", "self")
        assert _counts(uow)[0] == 1
        assert uow.ledger.check_invariants() == []


def test_transfer_moves_available_funds(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        entry_id = uow.ledger.transfer("alice", "bob", "USD", Decimal("40.25"), "t-1", "fee rebate")
        assert uow.ledger.transfer("alice", "bob", "USD", Decimal("40.25"), "t-1", "fee rebate") == entry_id
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD").available == Decimal("59.75")
        assert uow.ledger.balance("bob", "USD").available == Decimal("40.25")
    _assert_healthy(uow_factory)


def test_decimal_amounts_stay_exact(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.ledger.deposit("alice", "USD", Decimal("0.1"), "d1")
        uow.ledger.deposit("alice", "USD", Decimal("0.2"), "d2")
        uow.commit()
    price, quantity = Decimal("0.0001"), Decimal("22743500")
    notional = price * quantity
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD").available == Decimal("0.3")
        uow.ledger.deposit("bob", "USD", notional, "d3")
        uow.ledger.deposit("bob", "BTC", Decimal("0.000000000001"), "d4")
        uow.ledger.lock("h1", "bob", "USD", Decimal("2274.35"), "lock-h1")
        uow.ledger.post("h1", Decimal("1.005") * Decimal("3"), "carol", "post-h1")
        uow.commit()
    with uow_factory() as uow:
        hold = uow.ledger.hold("h1")
        assert str(hold.amount) == "2274.35"
        assert hold.posted_amount == Decimal("3.015")
        assert hold.released_amount == Decimal("2271.335")
        assert uow.ledger.balance("carol", "USD").available == Decimal("3.015")
        assert uow.ledger.balance("bob", "BTC").available == Decimal("1E-12")
        assert uow.ledger.check_invariants() == []


def test_expire_holds_voids_only_due_pending_holds(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory(clock=lambda: T0) as uow:
        uow.ledger.lock("due", "alice", "USD", Decimal("10"), "lock-due", expires_at=T0 + timedelta(seconds=5))
        uow.ledger.lock("later", "alice", "USD", Decimal("20"), "lock-later", expires_at=T0 + timedelta(seconds=60))
        uow.ledger.lock("never", "alice", "USD", Decimal("30"), "lock-never")
        uow.commit()
    with uow_factory(clock=lambda: T0 + timedelta(seconds=10)) as uow:
        expired = uow.ledger.expire_holds(T0 + timedelta(seconds=10), limit=100)
        assert [view.hold_id for view in expired] == ["due"]
        assert uow.ledger.expire_holds(T0 + timedelta(seconds=10), limit=100) == []
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.hold("due").status == "voided"
        assert uow.ledger.hold("later").status == "pending"
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("50"), Decimal("50"))
        resolved_at = uow.session.scalar(select(Hold.resolved_at).where(Hold.id == "due"))
        assert resolved_at == T0 + timedelta(seconds=10)
        assert uow.ledger.check_invariants() == []


def test_check_invariants_reports_tampering(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1")
        uow.commit()
    with uow_factory() as uow:
        uow.session.execute(text("UPDATE ledger_accounts SET locked = '50' WHERE owner = 'alice'"))
        problems = uow.ledger.check_invariants()
    assert any("locked is 50, journal says 60" in problem for problem in problems)
    assert any("pending holds sum to 60" in problem for problem in problems)
    assert any("asset USD sums to -10" in problem for problem in problems)


def test_a_remembered_account_id_that_now_names_another_account_is_not_used(uow_factory: UowFactory) -> None:
    """Account ids are remembered across transactions (ledger/accounts.py); after the accounts are
    recreated under other ids, a command must still move the named account's money, not the row
    that now carries the remembered id."""
    _fund(uow_factory, "alice", "100")
    _fund(uow_factory, "bob", "100")
    with uow_factory() as uow:
        ids = {owner: uow.ledger.account(owner, "USD").id for owner in ("alice", "bob")}
        for table in ("holds", "journal_lines", "journal_entries", "ledger_accounts"):
            uow.session.execute(text(f"DELETE FROM {table}"))
        # bob now carries alice's old id and alice bob's: a remembered id would pick the wrong owner
        for owner, account_id in (("bob", ids["alice"]), ("alice", ids["bob"])):
            uow.session.execute(text("INSERT INTO ledger_accounts (id, owner, asset, available, locked, created_at) "
                                     "VALUES (:id, :owner, 'USD', '0', '0', :at)"),
                                {"id": account_id, "owner": owner, "at": T0})
        uow.commit()
    _fund(uow_factory, "alice", "7")
    with uow_factory() as uow:
        uow.ledger.lock("h-alice", "alice", "USD", Decimal("5"), "lock-h-alice")
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("2"), Decimal("5"))
        assert uow.ledger.balance("bob", "USD") == Balance(Decimal(0), Decimal(0))
        assert uow.ledger.check_invariants() == []


def test_post_up_to_posts_what_the_hold_holds_once(uow_factory: UowFactory) -> None:
    """The margin path's post: as much as the hold holds (nothing without a hold), replayed by its key."""
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1")
        uow.commit()
    with uow_factory() as uow:
        before = _counts(uow)
        assert uow.ledger.post_up_to("missing", Decimal("10"), "bob", "post-missing") == Decimal(0)
        assert _counts(uow) == before
        assert uow.ledger.post_up_to("h1", Decimal("75"), "bob", "post-h1") == Decimal("60")
        uow.commit()
    with uow_factory() as uow:
        before = _counts(uow)
        assert uow.ledger.post_up_to("h1", Decimal("75"), "bob", "post-h1") == Decimal("60")  # a retry
        assert _counts(uow) == before
        assert uow.ledger.balance("bob", "USD") == Balance(Decimal("60"), Decimal(0))
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("40"), Decimal(0))
        assert uow.ledger.hold("h1").status == "posted"
        with pytest.raises(IdempotencyConflict):
            uow.ledger.post_up_to("h1", Decimal("5"), "bob", "lock-h1")  # the key of another entry
    _assert_healthy(uow_factory)


def test_post_up_to_posts_part_of_a_larger_hold_and_releases_the_rest(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1")
        assert uow.ledger.post_up_to("h1", Decimal("25.5"), "bob", "post-h1") == Decimal("25.5")
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.balance("bob", "USD") == Balance(Decimal("25.5"), Decimal(0))
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("74.5"), Decimal(0))
    _assert_healthy(uow_factory)


def test_a_key_staged_in_this_transaction_conflicts_on_another_hold(uow_factory: UowFactory) -> None:
    """The hold's lock and the key's lookup read the entry staged (not yet written) under that key."""
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("60"), "lock-h1")
        uow.ledger.lock("h2", "alice", "USD", Decimal("30"), "lock-h2")
        uow.commit()
    with uow_factory() as uow:
        uow.ledger.post("h1", Decimal("20"), "bob", "resolve-k")
        with pytest.raises(IdempotencyConflict):
            uow.ledger.void("h2", "resolve-k")
        with pytest.raises(IdempotencyConflict):
            uow.ledger.post_up_to("h2", Decimal("5"), "bob", "resolve-k")
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.hold("h2").status == "pending"
        assert uow.ledger.balance("bob", "USD") == Balance(Decimal("20"), Decimal(0))
    _assert_healthy(uow_factory)
