"""The ledger's deferred writes (ledger/pending.py) on SQLite and PostgreSQL: staged rows are
written before anything can read them and at commit, and follow savepoints and rollbacks."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import text

from ledger.ledger import Balance
from ledger.pending import pending_writes
from ledger.uow import SqlUnitOfWork

UowFactory = Callable[..., SqlUnitOfWork]


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
        return
    _fund(uow_factory, "alice", "100")
    with uow_factory() as first, uow_factory() as second:
        one = first.ledger.deposit("bob", "USD", Decimal("1"), "dep:bob")
        two = second.ledger.deposit("carol", "EUR", Decimal("1"), "dep:carol")  # other rows: no lock wait
        assert one != two
        first.commit()
        second.commit()
    with uow_factory() as uow:
        assert uow.ledger.check_invariants() == []
