"""Full audit of the ledger tables: recomputes every balance from the journal in Python Decimal.

Reads columns with Core-style selects (no ORM identity map), so the audit sees what the
database holds in this transaction, not objects cached in the session.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, localcontext
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.money import EXACT_CONTEXT
from ledger.models import BUCKETS, HOLD_STATUSES, Hold, JournalEntry, JournalLine, LedgerAccount
from ledger.views import EXTERNAL_OWNER, PENDING, VOIDED

ZERO = Decimal(0)


class _Account(NamedTuple):
    id: int
    owner: str
    asset: str
    available: Decimal
    locked: Decimal


def audit_ledger(session: Session) -> list[str]:
    """Every broken invariant as a sentence; empty when the ledger is healthy."""
    accounts = {
        row.id: _Account(row.id, row.owner, row.asset, row.available, row.locked)
        for row in session.execute(
            select(
                LedgerAccount.id, LedgerAccount.owner, LedgerAccount.asset,
                LedgerAccount.available, LedgerAccount.locked,
            )
        )
    }
    with localcontext(EXACT_CONTEXT):
        problems = _check_lines(session, accounts)
        problems += _check_accounts(accounts)
        problems += _check_holds(session, accounts)
    return problems


def _check_lines(session: Session, accounts: dict[int, _Account]) -> list[str]:
    problems: list[str] = []
    bucket_sums: dict[tuple[int, str], Decimal] = defaultdict(Decimal)
    entry_sums: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    lines = session.execute(
        select(JournalLine.entry_id, JournalLine.account_id, JournalLine.asset, JournalLine.bucket, JournalLine.amount)
    )
    for line in lines:
        account = accounts.get(line.account_id)
        if account is None or account.asset != line.asset:
            problems.append(f"line of entry {line.entry_id} has asset {line.asset} not matching its account")
        if line.bucket not in BUCKETS:
            problems.append(f"line of entry {line.entry_id} has unknown bucket {line.bucket!r}")
        bucket_sums[(line.account_id, line.bucket)] += line.amount
        entry_sums[line.entry_id][line.asset] += line.amount
    for account in accounts.values():
        for bucket, materialised in ((BUCKETS[0], account.available), (BUCKETS[1], account.locked)):
            journal_total = bucket_sums.get((account.id, bucket), ZERO)
            if journal_total != materialised:
                problems.append(
                    f"account {account.owner}/{account.asset} {bucket} is {materialised}, journal says {journal_total}"
                )
    for entry_id in session.scalars(select(JournalEntry.id)):
        if entry_id not in entry_sums:
            problems.append(f"entry {entry_id} has no lines")
    for entry_id, totals in entry_sums.items():
        for asset, total in totals.items():
            if total != 0:
                problems.append(f"entry {entry_id} does not balance in {asset}: {total}")
    return problems


def _check_accounts(accounts: dict[int, _Account]) -> list[str]:
    problems: list[str] = []
    asset_totals: dict[str, Decimal] = defaultdict(Decimal)
    for account in accounts.values():
        if account.available < 0 and account.owner != EXTERNAL_OWNER:
            problems.append(f"account {account.owner}/{account.asset} available is negative: {account.available}")
        if account.locked < 0:
            problems.append(f"account {account.owner}/{account.asset} locked is negative: {account.locked}")
        asset_totals[account.asset] += account.available + account.locked
    for asset, total in asset_totals.items():
        if total != 0:
            problems.append(f"asset {asset} sums to {total} over all accounts, expected 0")
    return problems


def _check_holds(session: Session, accounts: dict[int, _Account]) -> list[str]:
    problems: list[str] = []
    pending_by_account: dict[int, Decimal] = defaultdict(Decimal)
    for hold in session.execute(
        select(
            Hold.id, Hold.account_id, Hold.asset, Hold.amount, Hold.status,
            Hold.posted_amount, Hold.released_amount, Hold.resolve_entry_id,
        )
    ):
        account = accounts.get(hold.account_id)
        if account is None or account.asset != hold.asset:
            problems.append(f"hold {hold.id} asset {hold.asset} does not match its account")
            continue
        if hold.amount <= 0:
            problems.append(f"hold {hold.id} amount is not positive: {hold.amount}")
        if hold.status not in HOLD_STATUSES:
            problems.append(f"hold {hold.id} has unknown status {hold.status!r}")
        elif hold.status == PENDING:
            pending_by_account[hold.account_id] += hold.amount
            if hold.amount > account.locked:
                problems.append(f"pending hold {hold.id} amount {hold.amount} exceeds locked {account.locked}")
            if hold.resolve_entry_id is not None or hold.posted_amount is not None:
                problems.append(f"pending hold {hold.id} carries a resolution")
        else:
            problems += _check_resolved_hold(hold)
    for account in accounts.values():
        pending_total = pending_by_account.get(account.id, ZERO)
        if pending_total != account.locked:
            problems.append(
                f"account {account.owner}/{account.asset} locked is {account.locked}, pending holds sum to {pending_total}"
            )
    return problems


def _check_resolved_hold(hold: Any) -> list[str]:  # a Row of the hold query above
    posted, released = hold.posted_amount, hold.released_amount
    if hold.resolve_entry_id is None or posted is None or released is None:
        return [f"resolved hold {hold.id} lacks its resolution"]
    if posted < 0 or released < 0 or posted + released != hold.amount:
        return [f"hold {hold.id} posted {posted} + released {released} != amount {hold.amount}"]
    if hold.status == VOIDED and posted != 0:
        return [f"voided hold {hold.id} has posted amount {posted}"]
    return []
