"""Recording a decision: one unit of work, the decision's ledger intents executed in order, its
rows and events saved, one commit. Nothing is applied to memory or sent from here.

A ledger intent that cannot be carried out (funds short) raises the DomainRejection it carries;
a unique key the database enforces but memory did not know (a QuoteReqID reused across a
restart) becomes a DUPLICATE_ID refusal. Either way the unit of work rolls everything back.
"""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.exc import IntegrityError

from core.refusal import RejectReason
from core.state_machine import InvalidTransition
from gateway.domain.book import Changeset
from gateway.domain.errors import DomainRejection, as_rejection
from gateway.domain.ledger_intents import (
    LedgerIntent,
    LockFunds,
    LockWithMargin,
    PostHold,
    PostHoldWithMargin,
    RepayBorrow,
    TransferFunds,
    VoidHold,
)
from gateway.margin_ledger import execute_margin_intent
from gateway.ports import GatewayUnitOfWork, LedgerPort
from ledger.errors import InsufficientFunds

Decide = Callable[[GatewayUnitOfWork], Changeset]


def record(uow_factory: Callable[[], GatewayUnitOfWork], decide: Decide,
           before_commit: Callable[[GatewayUnitOfWork, Changeset], None] = lambda uow, changes: None) -> Changeset:
    """Decide inside a unit of work and commit what was decided; raises (rolled back) on refusal.
    `before_commit` adds to the same transaction (the FIX outbox)."""
    with uow_factory() as uow:
        changes = decide(uow)
        execute_intents(uow.ledger, changes.ledger)
        uow.store.save(changes)
        before_commit(uow, changes)
        try:
            uow.commit()
        except IntegrityError:
            raise DomainRejection(RejectReason.DUPLICATE_ID, "duplicate id") from None
    return changes


class Refused(Exception):
    """A command of a batch was refused; its savepoint is rolled back, the batch goes on."""

    def __init__(self, rejection: DomainRejection) -> None:
        super().__init__(rejection.text)
        self.rejection = rejection


def record_in_batch(uow: GatewayUnitOfWork, decide: Decide, virtual_savepoint: bool = False) -> Changeset:
    """Decide one command of a batch and stage its rows in the batch's transaction (no commit).

    Deciding writes nothing, and the rows are only staged (written with the batch's others at
    its commit), so a command is refused with nothing to undo -- except its ledger intents, which
    run in a savepoint of their own (virtual: the ledger's staged rows dropped, see
    SqlGatewayUnitOfWork.savepoint): a refusal or error there undoes that command's postings
    alone. Raises Refused when the command is refused; any other exception propagates with
    nothing of the command written."""
    try:
        changes = decide(uow)
        if not changes.ledger:
            uow.store.save(changes)
            return changes
        with uow.savepoint(virtual=virtual_savepoint):
            execute_intents(uow.ledger, changes.ledger)
            uow.store.save(changes)  # inside: should staging fail, the postings go with the savepoint
    except (DomainRejection, InvalidTransition) as error:
        raise Refused(as_rejection(error)) from None
    except IntegrityError:
        raise Refused(DomainRejection(RejectReason.DUPLICATE_ID, "duplicate id")) from None
    return changes


def execute_intents(ledger: LedgerPort, intents: list[LedgerIntent]) -> None:
    for intent in intents:
        try:
            _execute(ledger, intent)
        except InsufficientFunds:
            if isinstance(intent, (LockFunds, TransferFunds, PostHoldWithMargin)):
                raise intent.if_insufficient from None
            if isinstance(intent, LockWithMargin):
                raise intent.lock.if_insufficient from None
            raise


def _execute(ledger: LedgerPort, intent: LedgerIntent) -> None:
    match intent:
        case LockFunds():
            ledger.lock(intent.hold_id, intent.owner, intent.asset, intent.amount,
                        idempotency_key=intent.idempotency_key, rfq_id=intent.rfq_id, expires_at=intent.expires_at)
        case PostHold():
            ledger.post(intent.hold_id, intent.amount, intent.beneficiary, idempotency_key=intent.idempotency_key)
        case VoidHold():
            ledger.void(intent.hold_id, idempotency_key=intent.idempotency_key)
        case TransferFunds():
            ledger.transfer(intent.from_owner, intent.to_owner, intent.asset, intent.amount,
                            idempotency_key=intent.idempotency_key, description=intent.description)
        case LockWithMargin() | PostHoldWithMargin() | RepayBorrow():
            execute_margin_intent(ledger, intent)
