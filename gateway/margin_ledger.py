"""Carrying out the margin intents in the decision's transaction (the recorder calls these).

Buying power at IMF, the lock of a margin buy, its settlement through post-trade equity (drain,
redeem lends, borrow within MMF) and the repayment of a borrow after a sale. They need the SQL
ledger itself (settle_equity composes several entries); the in-memory test ledger has no margin.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import ROUND_FLOOR, Decimal

import structlog

from core.money import CASH_ASSET, CENT
from gateway.domain.ledger_intents import LockWithMargin, PendingBuy, PostHoldWithMargin, RepayBorrow
from ledger.equity import EXCHANGE_OWNER
from ledger.errors import InsufficientFunds
from ledger.ledger import Ledger
from ledger.lending import repay_borrow, settle_post_trade, snapshot_of
from ledger.margin import AccountSnapshot, MarginParameters, after_buy, assess
from ledger.models import OutboxRow
from ledger.uow import encode_payload

log = structlog.get_logger(__name__)

ZERO = Decimal(0)


def _sql_ledger(ledger: object) -> Ledger:
    if not isinstance(ledger, Ledger):
        raise TypeError(f"margin needs the SQL ledger, got {type(ledger).__name__}")
    return ledger


def imf_refusal(snapshot: AccountSnapshot, symbol: str, quantity: Decimal, cost: Decimal,
                pending: tuple[PendingBuy, ...], marks: Mapping[str, Decimal],
                parameters: MarginParameters) -> str | None:
    """Why the account cannot buy on margin (None: its collateral covers it at IMF)."""
    projected = snapshot
    for buy in pending:
        projected = after_buy(projected, buy.symbol, buy.quantity, buy.cost)
    projected = after_buy(projected, symbol, quantity, cost)
    margin = assess(projected, marks, parameters)
    if margin.meets(margin.imf):
        return None
    return (f"collateral {margin.collateral:.2f} USDC would not cover borrowing {margin.liabilities:.2f} USDC "
            f"at IMF {margin.imf}")


def covers_factory(marks: Callable[[], Mapping[str, Decimal]], parameters: MarginParameters
                   ) -> Callable[[object, str, str, Decimal, Decimal], str | None]:
    """MarginTerms.covers for the intake check (no pending buys: acceptance re-checks with them)."""
    def covers(balances: object, account: str, symbol: str, quantity: Decimal, cost: Decimal) -> str | None:
        if not isinstance(balances, Ledger):
            return "margin buying is not available"
        return imf_refusal(snapshot_of(balances, account), symbol, quantity, cost, (), marks(), parameters)

    return covers


def execute_margin_intent(ledger_port: object, intent: LockWithMargin | PostHoldWithMargin | RepayBorrow) -> None:
    ledger = _sql_ledger(ledger_port)
    match intent:
        case LockWithMargin():
            _lock_with_margin(ledger, intent)
        case PostHoldWithMargin():
            _post_with_margin(ledger, intent)
        case RepayBorrow():
            repaid = repay_borrow(ledger, intent.account, None, intent.idempotency_key)
            if repaid > 0:
                _event(ledger, "BorrowRepaid", intent.idempotency_key, {"account": intent.account,
                                                                        "repaid_usdc": repaid})


def _event(ledger: Ledger, event_type: str, reference: str, payload: dict[str, object]) -> None:
    """Post-trade equity in the outbox, in the settlement's transaction (rfq id from the key)."""
    digits = "".join(character if character.isdigit() else " " for character in reference).split()
    ledger.session.add(OutboxRow(rfq_id=int(digits[0]) if digits else None, event_type=event_type,
                                 payload=encode_payload(payload), occurred_at=ledger.now(), published_at=None))


def _lock_with_margin(ledger: Ledger, intent: LockWithMargin) -> None:
    lock = intent.lock
    available = ledger.lock_balances([(lock.owner, CASH_ASSET)])[(lock.owner, CASH_ASSET)].available
    if available >= lock.amount:
        ledger.lock(lock.hold_id, lock.owner, lock.asset, lock.amount, idempotency_key=lock.idempotency_key,
                    rfq_id=lock.rfq_id, expires_at=lock.expires_at)
        return
    cash = available.quantize(CENT, rounding=ROUND_FLOOR) if available > 0 else ZERO
    if cash <= 0:
        raise lock.if_insufficient  # a margin buy pays what cash it has first: it needs some
    refusal = imf_refusal(snapshot_of(ledger, lock.owner), intent.symbol, intent.quantity, lock.amount,
                          intent.pending, intent.marks, intent.parameters)
    if refusal is not None:
        raise type(lock.if_insufficient)(lock.if_insufficient.reason, f"insufficient buying power: {refusal}")
    ledger.lock(lock.hold_id, lock.owner, lock.asset, cash, idempotency_key=lock.idempotency_key,
                rfq_id=lock.rfq_id, expires_at=lock.expires_at)
    log.info("margin_buy_locked", account=lock.owner, locked=str(cash), on_margin=str(lock.amount - cash))


def _post_with_margin(ledger: Ledger, intent: PostHoldWithMargin) -> None:
    post = intent.post
    from_hold = (ledger.post_up_to(post.hold_id, post.amount, post.beneficiary, idempotency_key=post.idempotency_key)
                 if post.amount > 0 else ZERO)
    rest = post.amount - from_hold
    if rest <= 0:
        return
    settled = settle_post_trade(ledger, intent.account, -rest, intent.marks, intent.parameters,
                                f"equity:{post.hold_id}")
    if settled.equity.shortfall_usdc > 0:
        log.warning("margin_settlement_short", account=intent.account, shortfall=str(settled.equity.shortfall_usdc))
        raise intent.if_insufficient
    try:
        ledger.transfer(EXCHANGE_OWNER, post.beneficiary, CASH_ASSET, rest, f"exchange-pays:{post.hold_id}",
                        f"exchange pays the margin part of {post.hold_id}")
    except InsufficientFunds:
        raise intent.if_insufficient from None
    _event(ledger, "EquitySettled", post.hold_id, {
        "account": intent.account, "unsettled_equity": -rest, "drained_usdc": settled.equity.drained_usdc,
        "redeemed_usdc": settled.redeemed_usdc, "borrowed_usdc": settled.equity.borrowed_usdc,
        "borrow_limit": settled.equity.borrow_limit, "steps": [step.name for step in settled.equity.steps]})
    log.info("margin_buy_settled", account=intent.account, from_hold=str(from_hold),
             drained=str(settled.equity.drained_usdc), redeemed=str(settled.redeemed_usdc),
             borrowed=str(settled.equity.borrowed_usdc))
