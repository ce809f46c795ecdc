"""Double-entry ledger with two-phase holds, modelled on TigerBeetle's pending transfers.

Every command writes one journal entry whose lines sum to zero per asset, and updates the
materialised account balances in the caller's session; committing is the unit of work's job.
Commands are idempotent by key: a retried command returns its first result and writes nothing.
Rows are locked (SELECT ... FOR UPDATE on PostgreSQL, BEGIN IMMEDIATE on SQLite) before any
balance is checked, and accounts are locked in ascending id order so two commands cannot deadlock.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext

import structlog
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from core.clock import Now, utc_now
from core.money import EXACT_CONTEXT
from ledger.accounts import AccountLocks
from ledger.audit import audit_ledger
from ledger.errors import HoldExceeded, HoldNotFound, IdempotencyConflict, InsufficientFunds, InvalidAccount
from ledger.journal import resolve_hold, stage_hold, write_entry
from ledger.models import Hold, JournalEntry, JournalLine, LedgerAccount
from ledger.pending import Mark, listen, pending_writes
from ledger.postings import Posting, require_amount, require_text
from ledger.statements import ENTRY_BY_KEY, HOLD, LOCK_HOLD, LOCK_HOLD_WITH_ENTRY, LOCK_PROBE
from ledger.views import (
    AVAILABLE,
    EXTERNAL_OWNER,
    LOCKED,
    PENDING,
    POSTED,
    VOIDED,
    Balance,
    HoldView,
    RecordedEntry,
    RecordedLine,
)

__all__ = ["EXTERNAL_OWNER", "Balance", "HoldView", "Ledger", "RecordedEntry", "RecordedLine"]

log = structlog.get_logger(__name__)

RESOLVING_KINDS = ("post", "void")
MAX_EXPIRE_BATCH = 1000


@dataclass(frozen=True)
class _EntryRef:
    """What the replay check of a post or void needs of the entry an idempotency key names."""

    id: int
    kind: str
    hold_id: str | None


@dataclass(frozen=True)
class LedgerMark:
    pending: Mark
    new_objects: int  # ORM objects added to the session (an outbox row, an equity record) by then


class Ledger:
    def __init__(self, session: Session, clock: Now = utc_now) -> None:
        """One ledger per transaction: the accounts and holds it row-locked are read once (account ids
        are also remembered across transactions, ledger/accounts.py)."""
        self._session = session
        self._clock = clock
        bind = session.get_bind()
        listen(bind if isinstance(bind, Engine) else bind.engine)  # staged rows written in time (ledger/pending.py)
        self._accounts = AccountLocks(session, clock)
        self._locked_holds: dict[str, Hold] = {}  # row-locked in this transaction: nobody else can change them

    def mark(self) -> LedgerMark:
        """Where a command begins, to undo it without a SQL savepoint (`undo_to`)."""
        return LedgerMark(pending_writes(self._session.connection()).mark(), len(self._session.new))

    def undo_to(self, mark: LedgerMark) -> bool:
        """Drop what the ledger staged since `mark` and forget what it read since; False (nothing
        undone) when something reached the database or the session since -- only a SQL rollback
        can undo that."""
        if len(self._session.new) != mark.new_objects:
            return False
        dropped = pending_writes(self._session.connection()).undo_to(mark.pending)
        if dropped is None:
            return False
        # The objects of the dropped rows hold the undone values, and other holders of them (another
        # Ledger on this session, a caller) would trust them: expired, they are read again when used.
        identities = self._session.identity_map
        for model, keys in ((LedgerAccount, dropped.account_ids), (Hold, dropped.hold_ids)):
            for key in keys:
                found = identities.get(identity_key(model, key))
                if found is not None:
                    self._session.expire(found)
        self.forget_locks()
        return True

    def forget_locks(self) -> None:
        """After a ROLLBACK TO SAVEPOINT: PostgreSQL released the row locks taken inside it, so
        every account is read and locked again before its next change."""
        self._accounts.forget()
        for hold in self._locked_holds.values():
            self._session.expire(hold)
        self._locked_holds.clear()

    # ----------------------------------------------------------------- queries

    @property
    def session(self) -> Session:
        """The transaction the ledger writes in (for records kept beside the journal)."""
        return self._session

    def account(self, owner: str, asset: str) -> LedgerAccount:
        """Get or create the (owner, asset) account; safe against a concurrent creator."""
        return self._accounts.account(owner, asset)

    def balance(self, owner: str, asset: str) -> Balance:
        found = self._accounts.locked(owner, asset)
        if found is None:
            found = self._accounts.find(owner, asset)
        if found is None:
            return Balance(available=Decimal(0), locked=Decimal(0))
        return Balance(available=found.available, locked=found.locked)

    def now(self) -> datetime:
        """The time this ledger stamps entries with (its injected clock)."""
        return self._clock()

    def available(self, owner: str, asset: str) -> Decimal:
        """The owner's available balance of `asset` (zero for an account that does not exist yet)."""
        return self.balance(owner, asset).available

    def hold(self, hold_id: str) -> HoldView:
        found = self._session.scalars(HOLD, {"hold_id": hold_id}).one_or_none()
        if found is None:
            raise HoldNotFound(hold_id)
        return self._view(found)

    def hold_for_update(self, hold_id: str) -> HoldView:
        """The hold, row-locked until the transaction ends (a post or void of it that follows reads nothing)."""
        return self._view(self._lock_hold(hold_id))

    def check_invariants(self) -> list[str]:
        return audit_ledger(self._session)

    def recorded_entry(self, idempotency_key: str) -> RecordedEntry | None:
        """The entry written under `idempotency_key`, so commands composed of several entries can replay."""
        entry = self._find_entry(idempotency_key)
        if entry is None:
            return None
        rows = self._session.execute(
            select(LedgerAccount.owner, LedgerAccount.asset, JournalLine.bucket, JournalLine.amount)
            .join(LedgerAccount, LedgerAccount.id == JournalLine.account_id)
            .where(JournalLine.entry_id == entry.id)
            .order_by(JournalLine.id)
        )
        lines = tuple(RecordedLine(row.owner, row.asset, row.bucket, row.amount) for row in rows)
        return RecordedEntry(entry.id, entry.kind, entry.description, lines)

    def lock_balances(self, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Balance]:
        """Row-lock (owner, asset) accounts (created if missing) until the transaction ends.

        For a read-check-write spanning several commands: balances read here cannot change before
        the commands that follow run. Locks in ascending id order, like every other command.
        """
        accounts, _ = self._accounts.lock_pairs(list(pairs))
        return {pair: Balance(account.available, account.locked) for pair, account in accounts.items()}

    # ---------------------------------------------------------------- commands

    def deposit(self, owner: str, asset: str, amount: Decimal, idempotency_key: str) -> int:
        """Credit owner's available from the `external` counterpart; returns the entry id."""
        require_amount(amount)
        require_text("idempotency_key", idempotency_key, 128)
        if owner == EXTERNAL_OWNER:
            raise InvalidAccount("cannot deposit into the external counterpart")
        accounts, _ = self._accounts.lock_pairs([(owner, asset), (EXTERNAL_OWNER, asset)])
        target, source = accounts[(owner, asset)], accounts[(EXTERNAL_OWNER, asset)]
        postings = [Posting(target, AVAILABLE, amount), Posting(source, AVAILABLE, -amount)]
        replayed = self._replay_entry(idempotency_key, "deposit", postings)
        if replayed is not None:
            return replayed
        return self._write_entry("deposit", idempotency_key, postings, description=f"deposit {asset} to {owner}")

    def transfer(
        self, from_owner: str, to_owner: str, asset: str, amount: Decimal, idempotency_key: str, description: str
    ) -> int:
        """Move available funds between owners; only `external` may go negative."""
        require_amount(amount)
        require_text("idempotency_key", idempotency_key, 128)
        require_text("description", description, 256)
        if from_owner == to_owner:
            raise InvalidAccount(f"transfer from {from_owner} to itself")
        accounts, _ = self._accounts.lock_pairs([(from_owner, asset), (to_owner, asset)])
        source, target = accounts[(from_owner, asset)], accounts[(to_owner, asset)]
        postings = [Posting(source, AVAILABLE, -amount), Posting(target, AVAILABLE, amount)]
        replayed = self._replay_entry(idempotency_key, "transfer", postings)
        if replayed is not None:
            return replayed
        if from_owner != EXTERNAL_OWNER and source.available < amount:
            raise InsufficientFunds(from_owner, asset, source.available, amount)
        return self._write_entry("transfer", idempotency_key, postings, description=description)

    def lock(
        self,
        hold_id: str,
        owner: str,
        asset: str,
        amount: Decimal,
        idempotency_key: str,
        rfq_id: int | None = None,
        expires_at: datetime | None = None,
    ) -> HoldView:
        """Reserve `amount` of owner's available funds under a pending hold (available -> locked)."""
        require_amount(amount)
        require_text("hold_id", hold_id, 64)
        require_text("idempotency_key", idempotency_key, 128)
        if owner == EXTERNAL_OWNER:
            raise InvalidAccount("the external counterpart cannot lock funds")
        if expires_at is not None and expires_at.tzinfo is None:
            raise ValueError(f"expires_at must be timezone-aware: {expires_at!r}")
        account = self._accounts.lock_pairs([(owner, asset)])[0][(owner, asset)]
        connection = self._session.connection()
        pending = pending_writes(connection)
        pending.flush_for_hold(connection, hold_id)
        pending.flush_for_entry_key(connection, idempotency_key)
        # On the connection: a Core read of two ids needs none of the ORM session's execution work.
        known_entry, known_hold = connection.execute(LOCK_PROBE, {"key": idempotency_key, "hold_id": hold_id}).one()
        if known_entry is not None or known_hold is not None:
            replayed = self._replay_lock(idempotency_key, hold_id, account, amount)
            if replayed is not None:
                return replayed
        if account.available < amount:
            raise InsufficientFunds(owner, asset, account.available, amount)
        now = self._clock()
        postings = [Posting(account, AVAILABLE, -amount), Posting(account, LOCKED, amount)]
        entry_id = self._write_entry(
            "lock", idempotency_key, postings, now=now, rfq_id=rfq_id, hold_id=hold_id, description=f"lock {hold_id}"
        )
        stage_hold(self._session, {
            "id": hold_id, "rfq_id": rfq_id, "account_id": account.id, "asset": asset, "amount": amount,
            "status": PENDING, "expires_at": expires_at, "created_at": now, "lock_entry_id": entry_id})
        return HoldView(hold_id=hold_id, owner=owner, asset=asset, amount=amount, status=PENDING,
                        posted_amount=None, released_amount=None)

    def post(self, hold_id: str, amount: Decimal, beneficiary_owner: str, idempotency_key: str) -> HoldView:
        """Pay `amount` of a pending hold to the beneficiary and release the rest to its owner.

        A hold resolves at most once: posting or voiding a resolved hold returns the first outcome.
        """
        require_amount(amount)
        require_text("idempotency_key", idempotency_key, 128)
        hold, entry = self._lock_hold_with_entry(hold_id, idempotency_key)
        return self._post_locked(hold, entry, amount, beneficiary_owner, idempotency_key)

    def post_up_to(self, hold_id: str, amount: Decimal, beneficiary_owner: str, idempotency_key: str) -> Decimal:
        """`post` of as much of `amount` as the hold holds; returns that part (0 when there is no
        such hold). One lock of the hold for what would otherwise be a read, then a post."""
        require_amount(amount)
        require_text("idempotency_key", idempotency_key, 128)
        try:
            hold, entry = self._lock_hold_with_entry(hold_id, idempotency_key)
        except HoldNotFound:
            return Decimal(0)
        from_hold = min(amount, hold.amount)
        if from_hold > 0:
            self._post_locked(hold, entry, from_hold, beneficiary_owner, idempotency_key)
        return from_hold

    def _post_locked(self, hold: Hold, entry: _EntryRef | None, amount: Decimal, beneficiary_owner: str,
                     idempotency_key: str) -> HoldView:
        replayed = self._replay_resolution(idempotency_key, hold, entry)
        if replayed is not None:
            return replayed
        if hold.status != PENDING:
            return self._view(hold)
        if amount > hold.amount:
            raise HoldExceeded(hold.id, hold.amount, amount)
        by_pair, by_id = self._accounts.lock_pairs([(beneficiary_owner, hold.asset)], also_ids=[hold.account_id])
        owner, beneficiary = by_id[hold.account_id], by_pair[(beneficiary_owner, hold.asset)]
        with localcontext(EXACT_CONTEXT):
            released = hold.amount - amount
        postings = [Posting(owner, LOCKED, -hold.amount), Posting(beneficiary, AVAILABLE, amount)]
        if released > 0:
            postings.append(Posting(owner, AVAILABLE, released))
        now = self._clock()
        entry_id = self._write_entry(
            "post", idempotency_key, postings, now=now, rfq_id=hold.rfq_id, hold_id=hold.id,
            description=f"post {hold.id} to {beneficiary_owner}",
        )
        resolve_hold(self._session, hold, POSTED, amount, released, entry_id, now, beneficiary.id)
        return self._view(hold)

    def void(self, hold_id: str, idempotency_key: str) -> HoldView:
        """Release the whole pending hold to its owner; returns the first outcome if already resolved."""
        require_text("idempotency_key", idempotency_key, 128)
        hold, entry = self._lock_hold_with_entry(hold_id, idempotency_key)
        replayed = self._replay_resolution(idempotency_key, hold, entry)
        if replayed is not None:
            return replayed
        if hold.status != PENDING:
            return self._view(hold)
        return self._release(hold, idempotency_key, f"void {hold.id}")

    def expire_holds(self, now: datetime, limit: int) -> list[HoldView]:
        """Void pending holds whose expires_at <= now (oldest first, at most `limit`)."""
        assert now.tzinfo is not None, "now must be timezone-aware"
        assert 0 < limit <= MAX_EXPIRE_BATCH, f"limit must be in 1..{MAX_EXPIRE_BATCH}"
        due_ids = self._session.scalars(
            select(Hold.id)
            .where(Hold.status == PENDING, Hold.expires_at.is_not(None), Hold.expires_at <= now)
            .order_by(Hold.expires_at, Hold.id)
            .limit(limit)
        ).all()
        return [self.void(hold_id, f"expire:{hold_id}") for hold_id in due_ids]

    # ----------------------------------------------------------------- helpers

    def _lock_hold(self, hold_id: str) -> Hold:
        require_text("hold_id", hold_id, 64)
        hold = self._locked_holds.get(hold_id)
        if hold is not None:
            return hold  # row-locked by this transaction: it cannot have changed under us
        connection = self._session.connection()
        pending_writes(connection).flush_for_hold(connection, hold_id)  # a hold staged earlier is read back
        hold = self._session.scalars(LOCK_HOLD, {"hold_id": hold_id}).one_or_none()
        if hold is None:
            raise HoldNotFound(hold_id)
        self._locked_holds[hold_id] = hold
        return hold

    def _lock_hold_with_entry(self, hold_id: str, idempotency_key: str) -> tuple[Hold, _EntryRef | None]:
        """The hold, row-locked, and the entry `idempotency_key` names: one SELECT on SQLite unless the
        hold is locked already (then only the entry is looked up)."""
        require_text("hold_id", hold_id, 64)
        hold = self._locked_holds.get(hold_id)
        if hold is not None or self._session.get_bind().dialect.name == "postgresql":
            # PostgreSQL (READ COMMITTED): a SELECT that waited for the hold's row lock still reads the
            # joined entries as of its start, so an entry committed under this key meanwhile would be
            # missed: lock first, then look the key up in a statement of its own.
            hold = hold or self._lock_hold(hold_id)
            found = self._find_entry(idempotency_key)
            return hold, None if found is None else _EntryRef(found.id, found.kind, found.hold_id)
        connection = self._session.connection()  # SQLite: BEGIN IMMEDIATE took the write lock, nothing waits here
        pending = pending_writes(connection)
        pending.flush_for_hold(connection, hold_id)  # a hold or an entry staged earlier is read back
        pending.flush_for_entry_key(connection, idempotency_key)
        row = self._session.execute(LOCK_HOLD_WITH_ENTRY, {"hold_id": hold_id, "key": idempotency_key}).one_or_none()
        if row is None:
            raise HoldNotFound(hold_id)
        hold, entry_id, kind, entry_hold_id = row
        self._locked_holds[hold_id] = hold
        return hold, None if entry_id is None else _EntryRef(entry_id, kind, entry_hold_id)

    def _find_entry(self, idempotency_key: str) -> JournalEntry | None:
        connection = self._session.connection()
        pending_writes(connection).flush_for_entry_key(connection, idempotency_key)  # staged: written first
        return self._session.scalars(ENTRY_BY_KEY, {"key": idempotency_key}).one_or_none()

    def _replay_entry(self, idempotency_key: str, kind: str, postings: list[Posting]) -> int | None:
        entry = self._find_entry(idempotency_key)
        if entry is None:
            return None
        recorded = Counter(
            (line.account_id, line.bucket, line.amount)
            for line in self._session.scalars(select(JournalLine).where(JournalLine.entry_id == entry.id))
        )
        requested = Counter((posting.account.id, posting.bucket, posting.amount) for posting in postings)
        if entry.kind != kind or recorded != requested:
            raise IdempotencyConflict(f"key {idempotency_key!r} was used for a different {entry.kind} entry")
        log.info("ledger_replay", kind=kind, idempotency_key=idempotency_key, entry_id=entry.id)
        return entry.id

    def _replay_lock(
        self, idempotency_key: str, hold_id: str, account: LedgerAccount, amount: Decimal
    ) -> HoldView | None:
        entry = self._find_entry(idempotency_key)
        if entry is not None and (entry.kind != "lock" or entry.hold_id != hold_id):
            raise IdempotencyConflict(f"key {idempotency_key!r} was used for {entry.kind} of {entry.hold_id!r}")
        existing = self._session.get(Hold, hold_id)
        if existing is None:
            assert entry is None, f"lock entry {idempotency_key!r} without hold {hold_id!r}"
            return None
        if existing.account_id != account.id or existing.amount != amount:
            raise IdempotencyConflict(f"hold {hold_id!r} already exists with other terms")
        log.info("ledger_replay", kind="lock", idempotency_key=idempotency_key, hold_id=hold_id)
        return self._lock_view(existing, account.owner)

    def _replay_resolution(self, idempotency_key: str, hold: Hold, entry: _EntryRef | None) -> HoldView | None:
        if entry is None:
            return None
        if entry.kind not in RESOLVING_KINDS or entry.hold_id != hold.id:
            raise IdempotencyConflict(f"key {idempotency_key!r} was used for {entry.kind} of {entry.hold_id!r}")
        log.info("ledger_replay", kind=entry.kind, idempotency_key=idempotency_key, hold_id=hold.id)
        return self._view(hold)

    def _release(self, hold: Hold, idempotency_key: str, description: str) -> HoldView:
        owner = self._accounts.lock_ids([hold.account_id])[hold.account_id]
        postings = [Posting(owner, LOCKED, -hold.amount), Posting(owner, AVAILABLE, hold.amount)]
        now = self._clock()
        entry_id = self._write_entry(
            "void", idempotency_key, postings, now=now, rfq_id=hold.rfq_id, hold_id=hold.id, description=description
        )
        resolve_hold(self._session, hold, VOIDED, Decimal(0), hold.amount, entry_id, now, None)
        return self._view(hold)

    def _write_entry(
        self,
        kind: str,
        idempotency_key: str,
        postings: list[Posting],
        *,
        description: str,
        now: datetime | None = None,
        rfq_id: int | None = None,
        hold_id: str | None = None,
    ) -> int:
        return write_entry(self._session, kind, idempotency_key, postings, description=description,
                           created_at=now or self._clock(), rfq_id=rfq_id, hold_id=hold_id)

    def _view(self, hold: Hold) -> HoldView:
        owner = self._accounts.by_id(hold.account_id)
        assert owner is not None, f"hold {hold.id} without account"
        return HoldView(
            hold_id=hold.id, owner=owner.owner, asset=hold.asset, amount=hold.amount, status=hold.status,
            posted_amount=hold.posted_amount, released_amount=hold.released_amount,
        )

    @staticmethod
    def _lock_view(hold: Hold, owner: str) -> HoldView:
        """The result the original lock command returned, whatever happened to the hold since."""
        return HoldView(
            hold_id=hold.id, owner=owner, asset=hold.asset, amount=hold.amount, status=PENDING,
            posted_amount=None, released_amount=None,
        )
