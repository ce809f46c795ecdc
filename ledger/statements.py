"""The ledger's hot statements, built once: executing a prebuilt statement skips SQLAlchemy's
per-call construction and cache-key work (a third of the ledger's time when built per call)."""
from __future__ import annotations

from sqlalchemy import bindparam, insert, select, text, update

from db.upsert import table_of
from ledger.models import Hold, JournalEntry, JournalLine, LedgerAccount

ACCOUNT_BY_KEY = (select(LedgerAccount)
                  .where(LedgerAccount.owner == bindparam("owner"), LedgerAccount.asset == bindparam("asset"))
                  .execution_options(populate_existing=True))
ACCOUNT_BY_ID = select(LedgerAccount).where(LedgerAccount.id == bindparam("account_id"))
LOCK_ACCOUNTS = (select(LedgerAccount).where(LedgerAccount.id.in_(bindparam("ids", expanding=True)))
                 .order_by(LedgerAccount.id).with_for_update().execution_options(populate_existing=True))
LOCK_HOLD = select(Hold).where(Hold.id == bindparam("hold_id")).with_for_update().execution_options(
    populate_existing=True)
HOLD = select(Hold).where(Hold.id == bindparam("hold_id")).execution_options(populate_existing=True)
ENTRY_BY_KEY = select(JournalEntry).where(JournalEntry.idempotency_key == bindparam("key"))
# SQLite, before a post or void: the hold and the entry its idempotency key names (the replay
# check) in one round trip; the transaction's write lock (BEGIN IMMEDIATE) is the hold's lock.
# Keys are unique, so the join adds at most one entry to the hold's row. PostgreSQL uses LOCK_HOLD
# and ENTRY_BY_KEY (see Ledger._lock_hold_with_entry).
LOCK_HOLD_WITH_ENTRY = (select(Hold, JournalEntry.id, JournalEntry.kind, JournalEntry.hold_id)
                        .outerjoin(JournalEntry, JournalEntry.idempotency_key == bindparam("key"))
                        .where(Hold.id == bindparam("hold_id")).execution_options(populate_existing=True))
# Before a lock: is its idempotency key or its hold id known? One round trip; almost always (None, None).
LOCK_PROBE = select(
    select(JournalEntry.id).where(JournalEntry.idempotency_key == bindparam("key")).scalar_subquery(),
    select(Hold.id).where(Hold.id == bindparam("hold_id")).scalar_subquery())
_ENTRIES, _LINES, _ACCOUNTS, _HOLDS = (table_of(model) for model in (JournalEntry, JournalLine, LedgerAccount, Hold))
INSERT_ENTRIES = insert(_ENTRIES)  # with ids reserved beforehand (RESERVE_ENTRY_IDS_*)
INSERT_LINES = insert(_LINES)
UPDATE_BALANCES = (update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("account_id"))
                   .values(available=bindparam("new_available"), locked=bindparam("new_locked")))
INSERT_HOLD = insert(_HOLDS)
RESOLVE_HOLD = (update(_HOLDS).where(_HOLDS.c.id == bindparam("hold_key"))
                .values(status=bindparam("new_status"), posted_amount=bindparam("posted"),
                        released_amount=bindparam("released"), resolved_at=bindparam("at"),
                        resolve_entry_id=bindparam("entry_id"), beneficiary_account_id=bindparam("beneficiary")))
# Entry ids are reserved before the entries are written, so an entry, its lines and its hold can be
# staged together. SQLite: the transaction holds the write lock (BEGIN IMMEDIATE), so the ids after
# the largest are free until it ends. PostgreSQL: a block from the table's sequence (unused ids are
# gaps, as after any rollback).
# SQLite: above the largest id ever used (AUTOINCREMENT's sqlite_sequence), not only the largest left.
RESERVE_ENTRY_IDS_SQLITE = text(
    "SELECT max(coalesce((SELECT max(id) FROM journal_entries), 0), "
    "coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'journal_entries'), 0))")
RESERVE_ENTRY_IDS_POSTGRESQL = text(
    "SELECT nextval(pg_get_serial_sequence('journal_entries', 'id')) FROM generate_series(1, :count)")
