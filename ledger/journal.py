"""Writing the journal: an entry and its lines as two INSERTs, account balances as one UPDATE
each (no ORM unit of work on the hot path), and the ledger's hot SELECTs built once.

The account rows passed in are row-locked by the caller's transaction (ledger.Ledger); their ORM
objects are told the new balances as committed values, so nothing is flushed twice.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, localcontext

import structlog
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.money import EXACT_CONTEXT
from db.upsert import table_of
from ledger.models import Hold, JournalEntry, JournalLine, LedgerAccount
from ledger.postings import Posting, assert_balanced
from ledger.views import AVAILABLE

log = structlog.get_logger(__name__)

# The hot statements, built once: executing a prebuilt statement skips SQLAlchemy's per-call
# construction and cache-key work (a third of the ledger's time when built per call).
ACCOUNT_BY_KEY = (select(LedgerAccount)
                  .where(LedgerAccount.owner == bindparam("owner"), LedgerAccount.asset == bindparam("asset"))
                  .execution_options(populate_existing=True))
LOCK_ACCOUNTS = (select(LedgerAccount).where(LedgerAccount.id.in_(bindparam("ids", expanding=True)))
                 .order_by(LedgerAccount.id).with_for_update().execution_options(populate_existing=True))
LOCK_HOLD = select(Hold).where(Hold.id == bindparam("hold_id")).with_for_update().execution_options(
    populate_existing=True)
HOLD = select(Hold).where(Hold.id == bindparam("hold_id")).execution_options(populate_existing=True)
ENTRY_BY_KEY = select(JournalEntry).where(JournalEntry.idempotency_key == bindparam("key"))
# Before a lock: is its idempotency key or its hold id known? One round trip; almost always (None, None).
LOCK_PROBE = select(
    select(JournalEntry.id).where(JournalEntry.idempotency_key == bindparam("key")).scalar_subquery(),
    select(Hold.id).where(Hold.id == bindparam("hold_id")).scalar_subquery())
_ENTRIES, _LINES, _ACCOUNTS, _HOLDS = (table_of(model) for model in (JournalEntry, JournalLine, LedgerAccount, Hold))
INSERT_ENTRY = insert(_ENTRIES).returning(_ENTRIES.c.id)
INSERT_LINES = insert(_LINES)
UPDATE_BALANCES = (update(_ACCOUNTS).where(_ACCOUNTS.c.id == bindparam("account_id"))
                   .values(available=bindparam("new_available"), locked=bindparam("new_locked")))
INSERT_HOLD = insert(_HOLDS)
RESOLVE_HOLD = (update(_HOLDS).where(_HOLDS.c.id == bindparam("hold_key"))
                .values(status=bindparam("new_status"), posted_amount=bindparam("posted"),
                        released_amount=bindparam("released"), resolved_at=bindparam("at"),
                        resolve_entry_id=bindparam("entry_id"), beneficiary_account_id=bindparam("beneficiary")))


def write_entry(session: Session, kind: str, idempotency_key: str, postings: list[Posting], *, description: str,
                created_at: datetime, rfq_id: int | None = None, hold_id: str | None = None) -> int:
    """One balanced journal entry; returns its id. The account balances move with it."""
    assert_balanced(postings)
    entry_id: int = session.execute(INSERT_ENTRY, {
        "kind": kind, "idempotency_key": idempotency_key, "rfq_id": rfq_id, "hold_id": hold_id,
        "description": description, "created_at": created_at}).scalar_one()
    lines = []
    balances: dict[int, tuple[LedgerAccount, Decimal, Decimal]] = {}
    with localcontext(EXACT_CONTEXT):
        for posting in postings:
            account = posting.account
            lines.append({"entry_id": entry_id, "account_id": account.id, "asset": account.asset,
                          "bucket": posting.bucket, "amount": posting.amount})
            _, available, locked = balances.get(account.id, (account, account.available, account.locked))
            if posting.bucket == AVAILABLE:
                available += posting.amount
            else:
                locked += posting.amount
            balances[account.id] = (account, available, locked)
    for account, _, locked in balances.values():
        assert locked >= 0, f"account {account.id} locked went negative"
    session.execute(INSERT_LINES, lines)
    write_balances(session, balances.values())
    log.debug("ledger_entry", kind=kind, entry_id=entry_id, idempotency_key=idempotency_key, hold_id=hold_id)
    return entry_id


def write_balances(session: Session, balances: Iterable[tuple[LedgerAccount, Decimal, Decimal]]) -> None:
    """One UPDATE per account, and the ORM row told the new values as committed ones (it is
    row-locked by this transaction; after a SAVEPOINT rollback `Ledger.forget_locks` reloads it)."""
    rows = [{"account_id": account.id, "new_available": available, "new_locked": locked}
            for account, available, locked in balances]
    session.execute(UPDATE_BALANCES, rows)
    for account, available, locked in balances:
        set_committed_value(account, "available", available)
        set_committed_value(account, "locked", locked)


def resolve_hold(session: Session, hold: Hold, status: str, posted: Decimal, released: Decimal, entry_id: int,
                 at: datetime, beneficiary_account_id: int | None) -> None:
    """One UPDATE of a row-locked hold; its ORM object is told the new values as committed ones."""
    session.execute(RESOLVE_HOLD, {"hold_key": hold.id, "new_status": status, "posted": posted,
                                   "released": released, "at": at, "entry_id": entry_id,
                                   "beneficiary": beneficiary_account_id})
    for name, value in (("status", status), ("posted_amount", posted), ("released_amount", released),
                        ("resolved_at", at), ("resolve_entry_id", entry_id),
                        ("beneficiary_account_id", beneficiary_account_id)):
        set_committed_value(hold, name, value)
