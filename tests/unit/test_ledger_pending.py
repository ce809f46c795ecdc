"""The ledger's deferred writes (ledger/pending.py) on SQLite and PostgreSQL: staged rows are
written before anything can read them and at commit, and follow savepoints and rollbacks."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from ledger.errors import InvalidAmount, StagedWriteFailed
from ledger.ledger import Balance, Ledger
from ledger.pending import pending_writes
from ledger.uow import SqlUnitOfWork

UowFactory = Callable[..., SqlUnitOfWork]
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _fund(uow_factory: UowFactory, owner: str, amount: str) -> None:
    with uow_factory() as uow:
        uow.ledger.deposit(owner, "USD", Decimal(amount), f"fund:{owner}:{amount}")
        uow.commit()


def _sql_balance(uow: SqlUnitOfWork, owner: str) -> tuple[Decimal, Decimal]:
    """Balances as plain SQL sees them (a statement the ledger does not know)."""
    row = uow.session.execute(text("SELECT available, locked FROM ledger_accounts WHERE owner = :owner "
                                   "AND asset = 'USD'"), {"owner": owner}).one()
    return Decimal(str(row[0])), Decimal(str(row[1]))


def _hold_count(uow: SqlUnitOfWork) -> int:
    return int(uow.session.execute(text("SELECT count(*) FROM holds")).scalar_one())


def test_a_statement_the_ledger_does_not_know_sees_every_staged_row(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("30"), "lock:h1")
        assert pending_writes(uow.session.connection()).holds_staged("h1")  # not written yet
        assert _sql_balance(uow, "alice") == (Decimal("70"), Decimal("30"))
        assert _hold_count(uow) == 1
        assert not pending_writes(uow.session.connection()).holds_staged("h1")
        uow.commit()


def test_staged_rows_are_written_at_commit(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("30"), "lock:h1")
        uow.ledger.post("h1", Decimal("20"), "bob", "post:h1")
        uow.ledger.lock("h2", "alice", "USD", Decimal("5"), "lock:h2")
        uow.commit()
    with uow_factory() as uow:
        assert _sql_balance(uow, "alice") == (Decimal("75"), Decimal("5"))
        assert _sql_balance(uow, "bob") == (Decimal("20"), Decimal("0"))
        assert uow.ledger.hold("h1").status == "posted"
        assert uow.ledger.check_invariants() == []


def test_a_rolled_back_transaction_leaves_nothing_staged_for_the_next(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("30"), "lock:h1")
        # no commit: rolled back
    with uow_factory() as uow:
        uow.ledger.deposit("carol", "USD", Decimal("1"), "fund:carol")
        uow.commit()
    with uow_factory() as uow:
        assert _hold_count(uow) == 0
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("100"), Decimal(0))
        assert uow.ledger.check_invariants() == []


def test_rows_staged_inside_a_rolled_back_savepoint_are_dropped(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("10"), "lock:h1")
        try:
            with uow.session.begin_nested():
                uow.ledger.lock("h2", "alice", "USD", Decimal("20"), "lock:h2")
                raise RuntimeError("refused")
        except RuntimeError:
            uow.ledger.forget_locks()
        uow.commit()
    with uow_factory() as uow:
        assert _sql_balance(uow, "alice") == (Decimal("90"), Decimal("10"))
        assert _hold_count(uow) == 1
        assert uow.ledger.check_invariants() == []


def test_rows_staged_before_a_savepoint_but_written_inside_it_survive_its_rollback(uow_factory: UowFactory) -> None:
    """The rollback undoes what was written inside the savepoint -- including rows staged before
    it that a read inside it wrote -- so those are staged again, not lost."""
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("10"), "lock:h1")
        try:
            with uow.session.begin_nested():
                assert _hold_count(uow) == 1  # writes h1 and alice's balance inside the savepoint
                uow.ledger.lock("h2", "alice", "USD", Decimal("20"), "lock:h2")
                raise RuntimeError("refused")
        except RuntimeError:
            uow.ledger.forget_locks()
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("90"), Decimal("10"))
        uow.ledger.lock("h3", "alice", "USD", Decimal("1"), "lock:h3")
        uow.commit()
    with uow_factory() as uow:
        assert _sql_balance(uow, "alice") == (Decimal("89"), Decimal("11"))
        assert sorted(row[0] for row in uow.session.execute(text("SELECT id FROM holds"))) == ["h1", "h3"]
        assert uow.ledger.check_invariants() == []


def test_a_released_savepoint_keeps_its_rows(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        with uow.session.begin_nested():
            uow.ledger.lock("h1", "alice", "USD", Decimal("10"), "lock:h1")
        try:
            with uow.session.begin_nested():
                uow.ledger.lock("h2", "alice", "USD", Decimal("20"), "lock:h2")
                raise RuntimeError("refused")
        except RuntimeError:
            uow.ledger.forget_locks()
        uow.ledger.post("h1", Decimal("10"), "bob", "post:h1")
        uow.commit()
    with uow_factory() as uow:
        assert _sql_balance(uow, "alice") == (Decimal("90"), Decimal("0"))
        assert _sql_balance(uow, "bob") == (Decimal("10"), Decimal("0"))
        assert _hold_count(uow) == 1
        assert uow.ledger.check_invariants() == []


def test_a_hold_staged_in_this_transaction_can_be_posted_in_it(uow_factory: UowFactory) -> None:
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.ledger.lock("h1", "alice", "USD", Decimal("30"), "lock:h1")
        uow.ledger.lock("h1", "alice", "USD", Decimal("30"), "lock:h1")  # a retry in the same transaction
        view = uow.ledger.post("h1", Decimal("30"), "bob", "post:h1")
        assert view.status == "posted"
        uow.commit()
    with uow_factory() as uow:
        assert _sql_balance(uow, "alice") == (Decimal("70"), Decimal("0"))
        assert uow.ledger.check_invariants() == []


def test_a_retry_in_the_same_transaction_finds_the_staged_entry(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        first = uow.ledger.deposit("alice", "USD", Decimal("5"), "dep:1")
        assert uow.ledger.deposit("alice", "USD", Decimal("5"), "dep:1") == first  # replayed, not doubled
        uow.commit()
    with uow_factory() as uow:
        assert _sql_balance(uow, "alice") == (Decimal("5"), Decimal("0"))
        assert uow.ledger.check_invariants() == []


def test_entry_ids_reserved_by_transactions_at_once_never_collide(uow_factory: UowFactory, db_url: str) -> None:
    """PostgreSQL: two open transactions reserve ids from the sequence (SQLite has one writer at a time)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no two transactions reserve ids at once")
    _fund(uow_factory, "alice", "100")
    with uow_factory() as first, uow_factory() as second:
        one = first.ledger.deposit("bob", "USD", Decimal("1"), "dep:bob")
        two = second.ledger.deposit("carol", "EUR", Decimal("1"), "dep:carol")  # other rows: no lock wait
        assert one != two
        first.commit()
        second.commit()
    with uow_factory() as uow:
        assert uow.ledger.check_invariants() == []


def test_a_balance_the_store_cannot_hold_is_refused_by_the_command_itself(uow_factory: UowFactory) -> None:
    """Checked when staged, not when written: the command fails where it stands (inside its savepoint)."""
    _fund(uow_factory, "alice", "9" * 26)  # external is at -99..9 (26 digits): the column's limit
    with uow_factory() as uow:
        with pytest.raises(InvalidAmount):
            uow.ledger.deposit("bob", "USD", Decimal("1"), "dep:bob")  # external would need 27 digits
        uow.session.execute(text("SELECT 1"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.check_invariants() == []
        assert uow.ledger.balance("bob", "USD") == Balance(Decimal(0), Decimal(0))


def test_a_write_of_staged_rows_that_fails_part_way_can_only_roll_back(uow_factory: UowFactory) -> None:
    """The entry's INSERT ran, the hold's failed (no such account): nothing may commit half of it."""
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        connection = uow.session.connection()
        pending = pending_writes(connection)
        entry_id = pending.reserve_entry_id(connection)
        pending.stage_entry({"id": entry_id, "kind": "lock", "idempotency_key": "lock:orphan", "rfq_id": None,
                             "hold_id": "orphan", "description": "lock orphan", "created_at": T0})
        pending.stage_hold({"id": "orphan", "rfq_id": None, "account_id": 999_999, "asset": "USD",
                            "amount": Decimal(1), "status": "pending", "expires_at": None, "created_at": T0,
                            "lock_entry_id": entry_id})
        with pytest.raises(IntegrityError):
            uow.session.execute(text("SELECT 1"))  # writes the staged rows first
        with pytest.raises(StagedWriteFailed):
            uow.session.execute(text("SELECT 1"))
        with pytest.raises(StagedWriteFailed):
            uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.check_invariants() == []
        assert int(uow.session.execute(text("SELECT count(*) FROM journal_entries WHERE hold_id = 'orphan'"))
                   .scalar_one()) == 0


def test_an_undone_balance_is_not_trusted_by_another_ledger_on_the_session(uow_factory: UowFactory) -> None:
    """A virtual undo expires the objects of the rows it drops: any holder reads them again."""
    _fund(uow_factory, "alice", "100")
    _fund(uow_factory, "bob", "1")
    with uow_factory() as uow:
        first, second = uow.ledger, Ledger(uow.session)
        second.lock_balances([("alice", "USD")])
        mark = first.mark()
        first.transfer("alice", "bob", "USD", Decimal("60"), "t1", "undone")
        assert first.undo_to(mark)
        second.transfer("alice", "carol", "USD", Decimal("10"), "t2", "after the undo")
        uow.commit()
    with uow_factory() as uow:
        assert _sql_balance(uow, "alice") == (Decimal("90"), Decimal("0"))
        assert uow.ledger.check_invariants() == []


def test_sqlite_entry_ids_never_reuse_an_id_once_used(uow_factory: UowFactory, db_url: str) -> None:
    """AUTOINCREMENT's promise kept by the reservation: above the largest id ever used, not only the largest left."""
    if not db_url.startswith("sqlite"):
        pytest.skip("sqlite_sequence is SQLite's; PostgreSQL ids come from the sequence")
    _fund(uow_factory, "alice", "100")
    with uow_factory() as uow:
        uow.session.execute(text("UPDATE sqlite_sequence SET seq = 500 WHERE name = 'journal_entries'"))
        uow.commit()
    with uow_factory() as uow:
        assert uow.ledger.deposit("bob", "USD", Decimal("1"), "dep:bob") == 501
        uow.commit()
