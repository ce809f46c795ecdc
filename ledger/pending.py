"""The ledger's deferred writes: a transaction's journal entries, lines, balance updates and hold
rows written together, at the latest moment anything could read them.

Why: a settlement is four journal entries, and each wrote its entry, its lines, its balances and
its hold in statements of its own -- most of the ledger's SQL, and SQLAlchemy's per-statement
work costs more than SQLite's. The ledger decides from rows it has row-locked (their balances are
in memory) and reserves entry ids up front (statements.RESERVE_ENTRY_IDS_*), so the writes can
wait: they are staged here and written in one statement per table when the transaction commits,
or before any statement that could read them -- whichever comes first.

When a statement runs, this module's engine listener writes what is staged first, unless the
statement is one of the ledger's own that cannot see staged rows (`READS_WITHOUT_STAGED`); the
ledger checks before those (`flush_for_*`). SQL savepoints are followed: rows staged inside one
that is rolled back are dropped, and rows staged before it but written inside it (the rollback
undid them) are staged again. A command can also be undone without a SQL savepoint (`mark`,
`undo_to`) as long as nothing of it reached the database.

The staged rows live in the DBAPI connection's `info` for one transaction: written at commit,
dropped at rollback.
"""
from __future__ import annotations

import threading
import weakref
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ReleaseSavepointClause, RollbackToSavepointClause, SavepointClause

from ledger.errors import StagedWriteFailed
from ledger.statements import (
    ACCOUNT_BY_ID,
    ACCOUNT_BY_KEY,
    ENTRY_BY_KEY,
    INSERT_ENTRIES,
    INSERT_HOLD,
    INSERT_LINES,
    LOCK_ACCOUNTS,
    LOCK_HOLD,
    LOCK_HOLD_WITH_ENTRY,
    LOCK_PROBE,
    RESERVE_ENTRY_IDS_POSTGRESQL,
    RESERVE_ENTRY_IDS_SQLITE,
    RESOLVE_HOLD,
    UPDATE_BALANCES,
)

INFO_KEY = "ledger_pending_writes"
MAX_STAGED_ROWS = 10_000  # beyond this a transaction is a bulk job: its rows are written at once
ENTRY_ID_BLOCK = 64  # PostgreSQL: entry ids reserved per round trip
_SAVEPOINT_CLAUSES = (SavepointClause, RollbackToSavepointClause, ReleaseSavepointClause)
# The ledger's own statements that read no staged row (or whose caller wrote the rows they could read first).
READS_WITHOUT_STAGED = frozenset(id(statement) for statement in (
    ENTRY_BY_KEY, LOCK_PROBE, LOCK_ACCOUNTS, ACCOUNT_BY_KEY, ACCOUNT_BY_ID, LOCK_HOLD, LOCK_HOLD_WITH_ENTRY,
    RESERVE_ENTRY_IDS_SQLITE, RESERVE_ENTRY_IDS_POSTGRESQL))
_NO_LEDGER_ROWS: set[int] = set()  # other components' prebuilt statements that touch no ledger table
_WRITE_ORDER = ((INSERT_ENTRIES, "entries"), (INSERT_HOLD, "holds"), (INSERT_LINES, "lines"),
                (UPDATE_BALANCES, "balances"), (RESOLVE_HOLD, "resolutions"))
# Keyed by the engine itself, never by id(): a new engine may get a dead one's id.
_LISTENING: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines this module listens on
_RESERVED_ENTRY_IDS: weakref.WeakKeyDictionary[Engine, deque[int]] = weakref.WeakKeyDictionary()  # PostgreSQL
_RESERVED_LOCK = threading.Lock()  # the engine's, the broker's and the console's threads share the blocks


@dataclass
class _Row:
    seq: int  # staging order: the newest balance of an account wins
    table: str  # one of _WRITE_ORDER's names
    values: dict[str, Any]
    pair: tuple[str, str] | None = None  # a balance's (owner, asset)


@dataclass
class _Savepoint:
    mark: int  # rows staged after this seq belong to the savepoint
    written: list[_Row] = field(default_factory=list)  # rows written while it was open


@dataclass(frozen=True)
class Mark:
    """Where a command began: what was staged, and how many writes had reached the database."""

    seq: int
    writes: int


@dataclass(frozen=True)
class Dropped:
    account_ids: frozenset[int]
    hold_ids: frozenset[str]


class PendingWrites:
    def __init__(self) -> None:
        self._seq = 0
        self._staged: list[_Row] = []
        self._savepoints: list[_Savepoint] = []
        self._balance_ids: set[int] = set()
        self._balance_pairs: set[tuple[str, str]] = set()
        self._hold_ids: set[str] = set()
        self._entry_keys: set[str] = set()
        self._next_sqlite_entry_id: int | None = None
        self._writing = False
        self.failed = False  # a write of staged rows failed part-way: the transaction can only roll back
        self.writes = 0  # statements that changed the database in this transaction (counted by the listener)

    # -- staging (the ledger) ---------------------------------------------------------------
    def reserve_entry_id(self, connection: Connection) -> int:
        """An id for a new journal entry, unused and never to be used by anyone else."""
        if connection.dialect.name == "sqlite":
            if self._next_sqlite_entry_id is None:
                self._next_sqlite_entry_id = int(connection.execute(RESERVE_ENTRY_IDS_SQLITE).scalar_one()) + 1
            entry_id, self._next_sqlite_entry_id = self._next_sqlite_entry_id, self._next_sqlite_entry_id + 1
            return entry_id
        assert connection.dialect.name == "postgresql", f"no entry id reservation for {connection.dialect.name}"
        return _reserved_postgresql_entry_id(connection)

    def stage_entry(self, values: dict[str, Any]) -> None:
        self._stage(_Row(0, "entries", values))

    def stage_lines(self, rows: list[dict[str, Any]]) -> None:
        for values in rows:
            self._stage(_Row(0, "lines", values))

    def stage_balance(self, account_id: int, pair: tuple[str, str], available: Decimal, locked: Decimal) -> None:
        self._stage(_Row(0, "balances", {"account_id": account_id, "new_available": available,
                                         "new_locked": locked}, pair))

    def stage_hold(self, values: dict[str, Any]) -> None:
        self._stage(_Row(0, "holds", values))

    def stage_resolution(self, values: dict[str, Any]) -> None:
        self._stage(_Row(0, "resolutions", values))

    def holds_staged(self, hold_id: str) -> bool:
        return hold_id in self._hold_ids

    @property
    def full(self) -> bool:
        return len(self._staged) >= MAX_STAGED_ROWS

    # -- before the ledger's own reads ------------------------------------------------------
    def flush_for_accounts(self, connection: Connection, account_ids: list[int]) -> None:
        if not self._balance_ids.isdisjoint(account_ids):
            self.write(connection)

    def flush_for_pair(self, connection: Connection, pair: tuple[str, str]) -> None:
        if pair in self._balance_pairs:
            self.write(connection)

    def flush_for_hold(self, connection: Connection, hold_id: str) -> None:
        if hold_id in self._hold_ids:
            self.write(connection)

    def flush_for_entry_key(self, connection: Connection, idempotency_key: str) -> None:
        if idempotency_key in self._entry_keys:
            self.write(connection)

    # -- writing ----------------------------------------------------------------------------
    def write(self, connection: Connection) -> None:
        """Write everything staged, one statement per table (balances: the newest per account).
        Should one statement fail, the others may have run: the transaction is marked failed and
        every later statement and the commit refuse (StagedWriteFailed)."""
        self.refuse_if_failed()
        if not self._staged or self._writing:
            return
        rows, self._staged = self._staged, []
        self._clear_index()
        if self._savepoints:
            self._savepoints[-1].written.extend(rows)  # undone if that savepoint is rolled back
        by_table: dict[str, list[dict[str, Any]]] = {name: [] for _, name in _WRITE_ORDER}
        balances: dict[int, dict[str, Any]] = {}
        for row in rows:  # staged in seq order
            if row.table == "balances":
                balances[row.values["account_id"]] = row.values
            else:
                by_table[row.table].append(row.values)
        by_table["balances"] = list(balances.values())
        self._writing = True
        try:
            for statement, name in _WRITE_ORDER:
                if by_table[name]:
                    connection.execute(statement, by_table[name])
        except BaseException:
            self.failed = True
            raise
        finally:
            self._writing = False

    def refuse_if_failed(self) -> None:
        if self.failed:
            raise StagedWriteFailed("writing the ledger's staged rows failed earlier in this transaction: "
                                    "it can only roll back")

    # -- undoing a command without a SQL savepoint ------------------------------------------
    def mark(self) -> Mark:
        return Mark(self._seq, self.writes)

    def undo_to(self, mark: Mark) -> Dropped | None:
        """Drop what was staged after `mark`; returns the accounts and holds whose rows were dropped
        (their objects in memory hold the undone values). None (nothing dropped) when something
        reached the database since: only a SQL rollback can undo that."""
        if self.writes != mark.writes or self.failed:
            return None
        dropped = [row for row in self._staged if row.seq > mark.seq]
        self._keep([row for row in self._staged if row.seq <= mark.seq])
        return Dropped(account_ids=frozenset(row.values["account_id"] for row in dropped if row.table == "balances"),
                       hold_ids=frozenset(row.values["hold_key"] for row in dropped if row.table == "resolutions"))

    # -- SQL savepoints (the listener) ------------------------------------------------------
    def savepoint_opened(self) -> None:
        self._savepoints.append(_Savepoint(self._seq))

    def savepoint_rolled_back(self) -> None:
        """Before ROLLBACK TO SAVEPOINT: drop what was staged inside it and stage again what was
        staged before it but written inside it."""
        if not self._savepoints:
            return
        savepoint = self._savepoints.pop()
        kept = [row for row in self._staged if row.seq <= savepoint.mark]
        restaged = [row for row in savepoint.written if row.seq <= savepoint.mark]
        self._keep(sorted(kept + restaged, key=lambda staged: staged.seq))

    def savepoint_released(self) -> None:
        if not self._savepoints:
            return
        savepoint = self._savepoints.pop()
        if self._savepoints:
            self._savepoints[-1].written.extend(savepoint.written)

    # -- internals --------------------------------------------------------------------------
    def _stage(self, row: _Row) -> None:
        self._seq += 1
        row.seq = self._seq
        self._staged.append(row)
        self._index(row)

    def _keep(self, rows: list[_Row]) -> None:
        self._staged = rows
        self._clear_index()
        for row in rows:
            self._index(row)

    def _clear_index(self) -> None:
        self._balance_ids.clear()
        self._balance_pairs.clear()
        self._hold_ids.clear()
        self._entry_keys.clear()

    def _index(self, row: _Row) -> None:
        if row.table == "balances":
            assert row.pair is not None
            self._balance_ids.add(row.values["account_id"])
            self._balance_pairs.add(row.pair)
        elif row.table == "holds":
            self._hold_ids.add(row.values["id"])
        elif row.table == "resolutions":
            self._hold_ids.add(row.values["hold_key"])
        elif row.table == "entries":
            self._entry_keys.add(row.values["idempotency_key"])


def _reserved_postgresql_entry_id(connection: Connection) -> int:
    """The next id of this process's block from the sequence. Blocks outlive transactions, so a
    transaction writing one entry does not spend a whole block (the ids would run out 64 times
    faster); a rolled-back transaction's ids and a stopped process's rest are gaps. A sequence
    reset or a database restored behind a running process would hand out ids it still holds:
    restart the process after either."""
    with _RESERVED_LOCK:
        reserved = _RESERVED_ENTRY_IDS.setdefault(connection.engine, deque())
        if not reserved:
            reserved.extend(connection.execute(RESERVE_ENTRY_IDS_POSTGRESQL, {"count": ENTRY_ID_BLOCK}).scalars())
        return reserved.popleft()


def reads_no_ledger_rows(*statements: Any) -> None:
    """Declare prebuilt statements (module constants, alive for good) that touch no ledger table:
    they run without writing the staged rows first, so a batch's rows stay together."""
    _NO_LEDGER_ROWS.update(id(statement) for statement in statements)


def pending_writes(connection: Connection) -> PendingWrites:
    """The connection's staged ledger writes for its current transaction (created on first use)."""
    pending = connection.info.get(INFO_KEY)
    if pending is None:
        pending = connection.info[INFO_KEY] = PendingWrites()
    assert isinstance(pending, PendingWrites)
    return pending


def listen(engine: Engine) -> None:
    """Write staged rows before foreign statements and at commit, drop them at rollback (once per engine)."""
    if engine in _LISTENING:
        return
    _LISTENING.add(engine)
    event.listen(engine, "begin", _on_begin)
    event.listen(engine, "before_execute", _before_execute)
    event.listen(engine, "commit", _before_commit)
    event.listen(engine, "rollback", _after_rollback)
    event.listen(engine, "savepoint", _on_savepoint)
    event.listen(engine, "rollback_savepoint", _on_rollback_savepoint)
    event.listen(engine, "release_savepoint", _on_release_savepoint)


def _current(connection: Connection) -> PendingWrites | None:
    pending = connection.info.get(INFO_KEY)
    return pending if isinstance(pending, PendingWrites) else None


def _on_begin(connection: Connection) -> None:
    connection.info.pop(INFO_KEY, None)  # a transaction starts with nothing staged


def _before_execute(connection: Connection, clause: Any, *_: Any) -> None:
    pending = _current(connection)
    if pending is not None and pending.failed and not isinstance(clause, _SAVEPOINT_CLAUSES):
        pending.refuse_if_failed()
    if (pending is None or id(clause) in READS_WITHOUT_STAGED or id(clause) in _NO_LEDGER_ROWS
            or isinstance(clause, _SAVEPOINT_CLAUSES)):
        return
    pending.write(connection)
    if getattr(clause, "is_dml", True) or not getattr(clause, "is_select", False):
        pending.writes += 1  # anything not known to be a plain read counts as a write


def _before_commit(connection: Connection) -> None:
    pending = _current(connection)
    if pending is not None:
        pending.write(connection)
        connection.info.pop(INFO_KEY, None)


def _after_rollback(connection: Connection) -> None:
    connection.info.pop(INFO_KEY, None)


def _on_savepoint(connection: Connection, _name: str | None) -> None:
    pending_writes(connection).savepoint_opened()  # followed from the first savepoint on, staged rows or not


def _on_rollback_savepoint(connection: Connection, _name: str, _context: Any) -> None:
    pending = _current(connection)
    if pending is not None:
        pending.savepoint_rolled_back()


def _on_release_savepoint(connection: Connection, _name: str, _context: Any) -> None:
    pending = _current(connection)
    if pending is not None:
        pending.savepoint_released()
