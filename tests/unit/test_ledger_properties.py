"""Stateful property test: random lock/post/void sequences with reused keys, retries and aborted
transactions, checked against a plain-Python model and the ledger's own invariant audit."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from ledger.errors import HoldExceeded, HoldNotFound, IdempotencyConflict, InsufficientFunds, LedgerError
from ledger.ledger import EXTERNAL_OWNER, HoldView, Ledger
from ledger.uow import SqlUnitOfWork
from tests.state_machines import SqliteExampleMachine, migrated_template, run_machine

ASSET = "USD"
OWNERS = ("alice", "bob")
BENEFICIARIES = ("alice", "bob", "carol")
CENT = Decimal("0.01")
amounts = st.decimals(min_value=CENT, max_value=Decimal("400"), places=2)


@dataclass(frozen=True)
class LockCommand:
    hold_id: str
    owner: str
    amount: Decimal
    key: str

    def run(self, ledger: Ledger) -> HoldView:
        return ledger.lock(self.hold_id, self.owner, ASSET, self.amount, self.key)


@dataclass(frozen=True)
class PostCommand:
    hold_id: str
    amount: Decimal
    beneficiary: str
    key: str

    def run(self, ledger: Ledger) -> HoldView:
        return ledger.post(self.hold_id, self.amount, self.beneficiary, self.key)


@dataclass(frozen=True)
class VoidCommand:
    hold_id: str
    key: str

    def run(self, ledger: Ledger) -> HoldView:
        return ledger.void(self.hold_id, self.key)


Command = LockCommand | PostCommand | VoidCommand
Outcome = HoldView | type[LedgerError]


@dataclass
class Model:
    """What the ledger should do, written as directly as possible."""

    available: dict[str, Decimal] = field(default_factory=dict)
    locked: dict[str, Decimal] = field(default_factory=dict)
    holds: dict[str, HoldView] = field(default_factory=dict)
    keys: dict[str, tuple[str, str]] = field(default_factory=dict)

    def apply(self, command: Command) -> Outcome:
        if isinstance(command, LockCommand):
            return self._lock(command)
        hold = self.holds.get(command.hold_id)
        if hold is None:
            return HoldNotFound
        if command.key in self.keys:
            return hold if self.keys[command.key] == ("resolve", hold.hold_id) else IdempotencyConflict
        if hold.status != "pending":
            return hold
        posted = command.amount if isinstance(command, PostCommand) else Decimal(0)
        if posted > hold.amount:
            return HoldExceeded
        self.locked[hold.owner] -= hold.amount
        self.available[hold.owner] += hold.amount - posted
        if isinstance(command, PostCommand):
            self.available[command.beneficiary] = self.available.get(command.beneficiary, Decimal(0)) + posted
        status = "posted" if isinstance(command, PostCommand) else "voided"
        resolved = HoldView(hold.hold_id, hold.owner, ASSET, hold.amount, status, posted, hold.amount - posted)
        self.holds[hold.hold_id] = resolved
        self.keys[command.key] = ("resolve", hold.hold_id)
        return resolved

    def _lock(self, command: LockCommand) -> Outcome:
        if command.key in self.keys and self.keys[command.key] != ("lock", command.hold_id):
            return IdempotencyConflict
        existing = self.holds.get(command.hold_id)
        if existing is not None:
            if (existing.owner, existing.amount) != (command.owner, command.amount):
                return IdempotencyConflict
            return HoldView(existing.hold_id, existing.owner, ASSET, existing.amount, "pending", None, None)
        if self.available.get(command.owner, Decimal(0)) < command.amount:
            return InsufficientFunds
        self.available[command.owner] -= command.amount
        self.locked[command.owner] = self.locked.get(command.owner, Decimal(0)) + command.amount
        pending = HoldView(command.hold_id, command.owner, ASSET, command.amount, "pending", None, None)
        self.holds[command.hold_id] = pending
        self.keys[command.key] = ("lock", command.hold_id)
        return pending


class LedgerMachine(SqliteExampleMachine):
    def __init__(self) -> None:
        super().__init__()
        self.model = Model()
        self.history: list[Command] = []

    def _key(self, data: st.DataObject) -> str:
        used = sorted(self.model.keys)
        if used and data.draw(st.booleans(), label="reuse key"):
            return data.draw(st.sampled_from(used), label="key")
        return self._fresh("key-")

    def _hold_id(self, data: st.DataObject) -> str:
        known = sorted(self.model.holds)
        if known and data.draw(st.integers(0, 9), label="hold choice") < 8:
            return data.draw(st.sampled_from(known), label="hold id")
        return self._fresh("hold-")

    def _execute(self, command: Command, commit: bool) -> Outcome:
        """Run one command in its own transaction; refusals are committed too (they must write nothing)."""
        with SqlUnitOfWork(self.sessions) as uow:
            outcome: Outcome
            try:
                outcome = command.run(uow.ledger)
            except LedgerError as refusal:
                outcome = type(refusal)
            if commit:
                uow.commit()
        return outcome

    def _check(self, command: Command) -> None:
        expected = self.model.apply(command)
        assert self._execute(command, commit=True) == expected, command
        self.history.append(command)

    @initialize(deposits=st.tuples(amounts, amounts))
    def fund(self, deposits: tuple[Decimal, Decimal]) -> None:
        with SqlUnitOfWork(self.sessions) as uow:
            for owner, amount in zip(OWNERS, deposits):
                uow.ledger.deposit(owner, ASSET, amount, f"fund-{owner}")
                self.model.available[owner] = amount
            uow.commit()

    @rule(data=st.data(), owner=st.sampled_from(OWNERS), amount=amounts)
    def lock(self, data: st.DataObject, owner: str, amount: Decimal) -> None:
        self._check(LockCommand(self._hold_id(data), owner, amount, self._key(data)))

    @rule(data=st.data(), beneficiary=st.sampled_from(BENEFICIARIES), percent=st.integers(1, 101))
    def post(self, data: st.DataObject, beneficiary: str, percent: int) -> None:
        hold_id = self._hold_id(data)
        hold = self.model.holds.get(hold_id)
        locked = hold.amount if hold is not None else Decimal(1)
        # percent 101 asks for more than the hold locks and must be refused.
        amount = max(CENT, (locked * percent / 100).quantize(CENT, rounding=ROUND_DOWN))
        self._check(PostCommand(hold_id, amount, beneficiary, self._key(data)))

    @rule(data=st.data())
    def void(self, data: st.DataObject) -> None:
        self._check(VoidCommand(self._hold_id(data), self._key(data)))

    @rule(data=st.data())
    def retry_earlier_command(self, data: st.DataObject) -> None:
        if self.history:
            self._check(data.draw(st.sampled_from(self.history), label="retried command"))

    @rule(data=st.data())
    def abort_earlier_command(self, data: st.DataObject) -> None:
        """A transaction that dies before commit changes nothing, whatever it did."""
        if self.history:
            command = data.draw(st.sampled_from(self.history), label="aborted command")
            assert self._execute(command, commit=False) == copy.deepcopy(self.model).apply(command)

    @invariant()
    def ledger_matches_model_and_audit(self) -> None:
        with SqlUnitOfWork(self.sessions) as uow:
            assert uow.ledger.check_invariants() == []
            deposited = Decimal(0)
            for owner in (*OWNERS, "carol"):
                balance = uow.ledger.balance(owner, ASSET)
                assert balance.available == self.model.available.get(owner, Decimal(0)), owner
                assert balance.locked == self.model.locked.get(owner, Decimal(0)), owner
                deposited += balance.available + balance.locked
            assert uow.ledger.balance(EXTERNAL_OWNER, ASSET).available == -deposited
            for hold_id, view in self.model.holds.items():
                assert uow.ledger.hold(hold_id) == view


@pytest.fixture(scope="module")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory, "ledger-template")


def test_random_hold_sequences_keep_the_ledger_consistent(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    run_machine(LedgerMachine, template_db, tmp_path_factory.mktemp("ledger-examples"), max_examples=50, steps=20)
