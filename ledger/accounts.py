"""The accounts one ledger transaction touches: found or created by (owner, asset), row-locked
once, in ascending id order (so two transactions cannot deadlock), and remembered.

Locking is the ledger's dearest read, so it is paid once per account per transaction: a row
this transaction holds the lock on cannot change under it. Account ids are also remembered
across transactions (per database), so a command on known accounts locks them all in one
SELECT by id -- an id is never trusted, only tried: the row locked under it must be that
(owner, asset) account (a test may recreate the schema under the same engine), else the account
is looked up by key again.
"""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.clock import Now
from ledger.models import LedgerAccount
from ledger.pending import pending_writes
from ledger.postings import require_text
from ledger.statements import ACCOUNT_BY_ID, ACCOUNT_BY_KEY, LOCK_ACCOUNTS

Pair = tuple[str, str]  # (owner, asset)

_KNOWN_ACCOUNT_IDS: dict[int, dict[Pair, int]] = {}  # per database engine
MAX_KNOWN_ACCOUNTS = 100_000  # per database; beyond it the memory starts over


class AccountLocks:
    def __init__(self, session: Session, clock: Now) -> None:
        self._session = session
        self._clock = clock
        self._locked: dict[int, LedgerAccount] = {}  # row-locked in this transaction: nobody else can change them
        self._known_ids = _KNOWN_ACCOUNT_IDS.setdefault(id(session.get_bind()), {})

    def forget(self) -> None:
        """After a rollback to a savepoint (SQL or virtual): PostgreSQL released the row locks taken
        inside it, and the balances these objects were told may be undone -- expired, whoever
        still holds one reads it again."""
        for account in self._locked.values():
            self._session.expire(account)
        self._locked.clear()

    def account(self, owner: str, asset: str) -> LedgerAccount:
        """Get or create the (owner, asset) account; safe against a concurrent creator."""
        require_text("owner", owner, 64)
        require_text("asset", asset, 16)
        locked = self.locked(owner, asset)
        if locked is not None:
            return locked
        found = self.find(owner, asset)
        if found is None:
            self._insert_if_missing(owner, asset)
            found = self.find(owner, asset)
            assert found is not None, f"account {owner}/{asset} missing right after insert"
        self._remember(owner, asset, found.id)
        return found

    def locked(self, owner: str, asset: str) -> LedgerAccount | None:
        """The account if this transaction holds its row lock (its balances are current): no SQL."""
        known_id = self._known_ids.get((owner, asset))
        account = self._locked.get(known_id) if known_id is not None else None
        return account if account is not None and (account.owner, account.asset) == (owner, asset) else None

    def by_id(self, account_id: int) -> LedgerAccount | None:
        """The account (owner and asset never change; its balances may be stale unless locked)."""
        locked = self._locked.get(account_id)
        if locked is not None:
            return locked
        connection = self._session.connection()
        pending_writes(connection).flush_for_accounts(connection, [account_id])
        return self._session.scalars(ACCOUNT_BY_ID, {"account_id": account_id}).one_or_none()

    def find(self, owner: str, asset: str) -> LedgerAccount | None:
        # populate_existing: balances committed by other transactions must not be hidden by
        # objects this session loaded earlier (autoflush has already written our own changes).
        connection = self._session.connection()
        pending_writes(connection).flush_for_pair(connection, (owner, asset))  # its staged balance first
        return self._session.scalars(ACCOUNT_BY_KEY, {"owner": owner, "asset": asset}).one_or_none()

    def lock_pairs(self, pairs: list[Pair], also_ids: Iterable[int] = ()
                   ) -> tuple[dict[Pair, LedgerAccount], dict[int, LedgerAccount]]:
        """Row-lock the (owner, asset) accounts (created if missing) and the accounts `also_ids`, in
        one SELECT when their ids are remembered; returns them by pair and by id."""
        ids = {pair: self._id_of(*pair) for pair in pairs}
        by_id = self.lock_ids([*ids.values(), *also_ids], require_all=False)
        by_pair: dict[Pair, LedgerAccount] = {}
        for pair, account_id in ids.items():
            account = by_id.get(account_id)
            if account is None or (account.owner, account.asset) != pair:
                self._known_ids.pop(pair, None)  # not this account any more: by key, then lock it alone
                fresh_id = self.account(*pair).id
                account = self.lock_ids([fresh_id])[fresh_id]
                by_id[fresh_id] = account
            by_pair[pair] = account
        return by_pair, by_id

    def lock_ids(self, account_ids: Iterable[int], require_all: bool = True) -> dict[int, LedgerAccount]:
        ids = sorted(set(account_ids))
        missing = [account_id for account_id in ids if account_id not in self._locked]
        if missing:
            # Only accounts not yet locked in this transaction are read (and locked): after a
            # SAVEPOINT rollback SQLAlchemy expires our objects and `forget` drops them.
            connection = self._session.connection()
            pending_writes(connection).flush_for_accounts(connection, missing)  # their staged balances first
            self._locked.update((account.id, account) for account in self._session.scalars(LOCK_ACCOUNTS,
                                                                                          {"ids": missing}))
        accounts = {account_id: self._locked[account_id] for account_id in ids if account_id in self._locked}
        assert not require_all or sorted(accounts) == ids, f"accounts {ids} vanished while locking"
        return accounts

    def _id_of(self, owner: str, asset: str) -> int:
        """The account's id without SQL when it was seen before (unverified: `lock_pairs` checks it)."""
        known = self._known_ids.get((owner, asset))
        return known if known is not None else self.account(owner, asset).id

    def _remember(self, owner: str, asset: str, account_id: int) -> None:
        if len(self._known_ids) >= MAX_KNOWN_ACCOUNTS:
            self._known_ids.clear()
        self._known_ids[(owner, asset)] = account_id

    def _insert_if_missing(self, owner: str, asset: str) -> None:
        dialect_name = self._session.get_bind().dialect.name
        insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
        statement = insert(LedgerAccount).values(
            owner=owner, asset=asset, available=Decimal(0), locked=Decimal(0), created_at=self._clock()
        )
        self._session.execute(statement.on_conflict_do_nothing(index_elements=["owner", "asset"]))
