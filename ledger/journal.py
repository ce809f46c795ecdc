"""Writing the journal: an entry (its id reserved up front), its lines, the accounts' new balances
and hold rows staged and written with the transaction's others (ledger/pending.py), no ORM unit
of work on the hot path.

The account rows passed in are row-locked by the caller's transaction (ledger.Ledger); their ORM
objects are told the new balances as committed values, so nothing is flushed twice.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, localcontext
from typing import Any

import structlog
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from core.money import EXACT_CONTEXT, storable_decimal_problem
from ledger.errors import InvalidAmount
from ledger.models import Hold, LedgerAccount
from ledger.pending import pending_writes
from ledger.postings import Posting, assert_balanced
from ledger.views import AVAILABLE

log = structlog.get_logger(__name__)


def write_entry(session: Session, kind: str, idempotency_key: str, postings: list[Posting], *, description: str,
                created_at: datetime, rfq_id: int | None = None, hold_id: str | None = None) -> int:
    """One balanced journal entry; returns its id. The account balances move with it.
    Everything is checked before anything is staged: a refusal leaves nothing behind."""
    assert_balanced(postings)
    balances = _new_balances(postings)
    connection = session.connection()
    pending = pending_writes(connection)
    entry_id = pending.reserve_entry_id(connection)
    pending.stage_entry({"id": entry_id, "kind": kind, "idempotency_key": idempotency_key, "rfq_id": rfq_id,
                         "hold_id": hold_id, "description": description, "created_at": created_at})
    pending.stage_lines([{"entry_id": entry_id, "account_id": posting.account.id, "asset": posting.account.asset,
                          "bucket": posting.bucket, "amount": posting.amount} for posting in postings])
    write_balances(session, balances)
    if pending.full:
        pending.write(connection)
    log.debug("ledger_entry", kind=kind, entry_id=entry_id, idempotency_key=idempotency_key, hold_id=hold_id)
    return entry_id


def _new_balances(postings: list[Posting]) -> list[tuple[LedgerAccount, Decimal, Decimal]]:
    """Each account's (available, locked) after the postings; refused (InvalidAmount) if the store
    could not hold one -- here, in the command, not later when the staged rows are written."""
    balances: dict[int, tuple[LedgerAccount, Decimal, Decimal]] = {}
    with localcontext(EXACT_CONTEXT):
        for posting in postings:
            account = posting.account
            _, available, locked = balances.get(account.id, (account, account.available, account.locked))
            if posting.bucket == AVAILABLE:
                available += posting.amount
            else:
                locked += posting.amount
            balances[account.id] = (account, available, locked)
    for account, available, locked in balances.values():
        assert locked >= 0, f"account {account.id} locked went negative"
        for balance in (available, locked):
            problem = storable_decimal_problem(balance)
            if problem is not None:
                raise InvalidAmount(f"account {account.owner}/{account.asset} would hold {problem}")
    return list(balances.values())


def write_balances(session: Session, balances: Iterable[tuple[LedgerAccount, Decimal, Decimal]]) -> None:
    """The accounts' new balances, staged (one UPDATE per account with the transaction's other
    rows); the ORM rows are told the new values as committed ones (they are row-locked by this
    transaction; after a SAVEPOINT rollback `Ledger.forget_locks` reloads them)."""
    pending = pending_writes(session.connection())
    for account, available, locked in balances:
        pending.stage_balance(account.id, (account.owner, account.asset), available, locked)
        set_committed_value(account, "available", available)
        set_committed_value(account, "locked", locked)


def stage_hold(session: Session, values: dict[str, Any]) -> None:
    """A new pending hold's row, written with the transaction's other staged rows."""
    pending_writes(session.connection()).stage_hold(values)


def resolve_hold(session: Session, hold: Hold, status: str, posted: Decimal, released: Decimal, entry_id: int,
                 at: datetime, beneficiary_account_id: int | None) -> None:
    """The resolution of a row-locked hold, staged; its ORM object is told the new values as committed ones."""
    pending_writes(session.connection()).stage_resolution({
        "hold_key": hold.id, "new_status": status, "posted": posted, "released": released, "at": at,
        "entry_id": entry_id, "beneficiary": beneficiary_account_id})
    for name, value in (("status", status), ("posted_amount", posted), ("released_amount", released),
                        ("resolved_at", at), ("resolve_entry_id", entry_id),
                        ("beneficiary_account_id", beneficiary_account_id)):
        set_committed_value(hold, name, value)
