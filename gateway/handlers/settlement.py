"""Handlers for acceptance and execution: the steps that move money.

They return the ledger's work as intents (lock, post, void, transfer) in the Changeset; the
engine executes them in the same transaction as the RFQ's state change and its outbox events,
so all of it commits together or not at all (a rollback also leaves the in-memory book untouched).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from core.money import CASH_ASSET
from core.refusal import RejectReason
from core.types import QuoteId, RfqId, Side
from gateway.domain import outbound as out
from gateway.domain.book import Changeset, FillRecord, RfqBook, SettledFill
from gateway.domain.commands import AcceptQuote, ExecutionOutcome, ReportExecution, ResponseType
from gateway.domain.errors import DomainRejection
from gateway.domain.events import QuoteAccepted, RfqExecutionFailed, RfqFilled, RfqSettled
from gateway.domain.ledger_intents import (
    LedgerIntent,
    LockFunds,
    LockWithMargin,
    PendingBuy,
    PostHold,
    PostHoldWithMargin,
    RepayBorrow,
    TransferFunds,
    VoidHold,
)
from gateway.domain.policy import MarginTerms
from gateway.domain.quotes import Quote, QuoteStatus, is_eligible
from gateway.domain.rfq import Rfq, RfqState, Trigger
from gateway.domain.types import requester_cash_amount


@dataclass(frozen=True)
class Legs:
    """What each party delivers: the buyer cash, the seller shares."""

    requester_asset: str
    requester_amount: Decimal
    solver_asset: str
    solver_amount: Decimal


def holds_for(rfq_id: RfqId) -> tuple[str, str]:
    return f"rfq-{rfq_id}-requester", f"rfq-{rfq_id}-solver"


def acceptance_id(rfq_id: RfqId) -> str:
    """The QuoteRespID the winning solver is told, and must quote back on its fill."""
    return f"acc-{rfq_id}"


def parse_acceptance_id(quote_resp_id: str) -> RfqId | None:
    prefix, _, number = quote_resp_id.partition("-")
    return RfqId(int(number)) if prefix == "acc" and number.isdigit() else None


FindSettledFill = Callable[[RfqId, str], SettledFill | None]


def legs(rfq: Rfq, price: Decimal, quantity: Decimal) -> Legs:
    cash = requester_cash_amount(rfq.side, price, quantity)
    if rfq.side is Side.BUY:
        return Legs(CASH_ASSET, cash, rfq.symbol, quantity)
    return Legs(rfq.symbol, quantity, CASH_ASSET, cash)


def accept_quote(command: AcceptQuote, book: RfqBook, now: datetime,
                 expires_at: datetime | None = None, margin: MarginTerms | None = None) -> Changeset:
    """A requester's QuoteResponse (AJ) Hit/Lift on a quote it was shown."""
    quote = book.quote(QuoteId(command.quote_id))
    rfq = book.rfq(quote.rfq_id) if quote is not None else None
    if quote is None or rfq is None:
        raise DomainRejection(RejectReason.UNKNOWN_ID, f"unknown QuoteID {command.quote_id}")
    if rfq.requester != command.requester:
        raise DomainRejection(RejectReason.NOT_AUTHORIZED, "quote belongs to another requester's RFQ")
    if command.response_type is not ResponseType.HIT_LIFT:
        raise DomainRejection(RejectReason.OTHER, "only QuoteRespType 1 (Hit/Lift) accepts a quote")
    if rfq.state is not RfqState.QUOTING:
        raise DomainRejection(RejectReason.WRONG_STATE, f"RFQ is {rfq.state.value}")
    if now >= rfq.acceptance_deadline:
        raise DomainRejection(RejectReason.TOO_LATE, "acceptance window closed")
    if not is_eligible(quote, rfq, now):
        raise DomainRejection(RejectReason.WRONG_STATE, f"quote {quote.quote_id} can no longer be accepted")
    return accept(rfq, quote, command.client_resp_id, book, now, expires_at, margin)


def accept(rfq: Rfq, quote: Quote, client_resp_id: str | None, book: RfqBook, now: datetime,
           expires_at: datetime | None = None, margin: MarginTerms | None = None) -> Changeset:
    """Bind the RFQ to a quote: lock both legs at the quoted price, tell the winner and the losers.

    `expires_at`: the settlement deadline; the holds expire then, and the solver is told it.
    `margin`: a buy may then lock less USDC than it costs when collateral covers it at IMF."""
    price = quoted_price(rfq, quote)
    amounts = legs(rfq, price, rfq.quantity)
    accepted = rfq.apply(Trigger.ACCEPT, now, accepted_quote_id=quote.quote_id, client_resp_id=client_resp_id)
    changes = Changeset(rfqs=[accepted], quotes=[quote.with_status(QuoteStatus.ACCEPTED)],
                        ledger=lock_legs(rfq, quote, amounts, expires_at, _margin_context(rfq, book, margin)))
    changes.events.append(QuoteAccepted(
        rfq_id=rfq.rfq_id, occurred_at=now, quote_id=quote.quote_id, solver=quote.solver, price=price,
        quantity=rfq.quantity, locked_amount=amounts.requester_amount, locked_asset=amounts.requester_asset,
    ))
    changes.outbound.append(out.NotifyQuoteAccepted(
        to=quote.solver, quote_resp_id=acceptance_id(rfq.rfq_id), solver_quote_id=quote.solver_quote_id,
        quote_req_id=rfq.solver_query_id(), symbol=rfq.symbol, side=rfq.side, quantity=rfq.quantity, price=price,
        settle_by=expires_at,
    ))
    if not rfq.is_order:  # an order already had its New report when it arrived
        changes.outbound.append(requester_report(accepted, out.ReportKind.NEW, f"{rfq.rfq_id}-new", quote))
    retire_other_quotes(accepted, book, changes, QuoteStatus.LOST, "RFQ accepted another quote")
    return changes


@dataclass(frozen=True)
class _MarginContext:
    terms: MarginTerms
    pending: tuple[PendingBuy, ...]


def _margin_context(rfq: Rfq, book: RfqBook, margin: MarginTerms | None) -> _MarginContext | None:
    if margin is None or rfq.side is not Side.BUY:
        return None
    return _MarginContext(margin, pending_buys(book, rfq.requester_account, rfq.rfq_id))


def pending_buys(book: RfqBook, account: str, except_rfq: RfqId | None = None) -> tuple[PendingBuy, ...]:
    """Accepted buys of `account` not settled yet: the buying power they already hold."""
    pending: list[PendingBuy] = []
    for other in book.rfqs_in(RfqState.ACCEPTED_BINDING):
        if other.requester_account != account or other.side is not Side.BUY or other.rfq_id == except_rfq:
            continue
        quote = book.quote(other.accepted_quote_id) if other.accepted_quote_id is not None else None
        if quote is not None:
            cost = legs(other, quoted_price(other, quote), other.quantity).requester_amount
            pending.append(PendingBuy(other.symbol, other.quantity, cost))
    return tuple(pending)


def lock_legs(rfq: Rfq, quote: Quote, amounts: Legs, expires_at: datetime | None,
              margin: _MarginContext | None = None) -> list[LedgerIntent]:
    """Both holds of an acceptance: the requester's first (its shortfall is the likelier refusal)."""
    requester_hold, solver_hold = holds_for(rfq.rfq_id)
    requester_lock = LockFunds(requester_hold, rfq.requester_account, amounts.requester_asset,
                               amounts.requester_amount, rfq.rfq_id, expires_at, DomainRejection(
                                   RejectReason.INSUFFICIENT_FUNDS,
                                   f"insufficient {amounts.requester_asset}: need {amounts.requester_amount}"))
    first: LedgerIntent = requester_lock
    if margin is not None:
        first = LockWithMargin(requester_lock, rfq.symbol, rfq.quantity, margin.pending, margin.terms.marks(),
                               margin.terms.parameters)
    return [
        first,
        LockFunds(solver_hold, quote.solver_account, amounts.solver_asset, amounts.solver_amount, rfq.rfq_id,
                  expires_at, DomainRejection(RejectReason.OTHER, "solver cannot deliver: its balance is insufficient")),
    ]


def quoted_price(rfq: Rfq, quote: Quote) -> Decimal:
    """The winning quote's price on the requester's side (an accepted quote always has one)."""
    price = quote.price_for(rfq.side)
    assert price is not None, f"quote {quote.quote_id} accepted without a {rfq.side.value} price"
    return price


def retire_other_quotes(rfq: Rfq, book: RfqBook, changes: Changeset, status: QuoteStatus, text: str) -> None:
    """Tell every other solver with a live quote that the RFQ is done for them."""
    winner = rfq.accepted_quote_id
    for quote in book.quotes(rfq.rfq_id):
        if quote.status is not QuoteStatus.LIVE or quote.quote_id == winner:
            continue
        changes.quotes.append(quote.with_status(status))
        ack = out.QuoteAck.EXPIRED if status is QuoteStatus.EXPIRED else out.QuoteAck.REMOVED
        changes.outbound.append(out.QuoteStatusReport(
            to=quote.solver, quote_req_id=rfq.solver_query_id(), quote_id=quote.solver_quote_id,
            symbol=rfq.symbol, status=ack, text=text,
        ))


def requester_report(rfq: Rfq, kind: out.ReportKind, exec_id: str, quote: Quote | None,
                     last_price: Decimal | None = None, last_quantity: Decimal | None = None,
                     text: str | None = None) -> out.RequesterReport:
    return out.RequesterReport(
        to=rfq.requester, kind=kind, cl_ord_id=rfq.client_resp_id or rfq.client_req_id,
        order_id=f"rfq-{rfq.rfq_id}", exec_id=exec_id, symbol=rfq.symbol, side=rfq.side,
        order_quantity=rfq.quantity, cum_quantity=rfq.filled_quantity, average_price=rfq.average_price,
        last_price=last_price, last_quantity=last_quantity, quote_id=quote.quote_id if quote else None, text=text,
    )


def _winning_context(command: ReportExecution, book: RfqBook) -> tuple[Rfq, Quote]:
    rfq_id = parse_acceptance_id(command.quote_resp_id)
    rfq = book.rfq(rfq_id) if rfq_id is not None else None
    if rfq is None or rfq.accepted_quote_id is None:
        raise DomainRejection(RejectReason.UNKNOWN_ID, f"no accepted RFQ for QuoteRespID {command.quote_resp_id}")
    quote = book.quote(rfq.accepted_quote_id)
    assert quote is not None, "an accepted RFQ keeps its winning quote"
    if quote.solver != command.solver:
        raise DomainRejection(RejectReason.NOT_AUTHORIZED, "only the winning solver may report execution")
    if rfq.state is not RfqState.ACCEPTED_BINDING:
        raise DomainRejection(RejectReason.WRONG_STATE, f"RFQ is already {rfq.state.value}")
    return rfq, quote


def report_execution(command: ReportExecution, book: RfqBook, now: datetime,
                     nbbo: tuple[Decimal, Decimal] | None = None,
                     find_settled: FindSettledFill = lambda rfq_id, exec_id: None,
                     margin: MarginTerms | None = None) -> Changeset:
    """A solver's ExecutionReport: settle the fill (or end the RFQ on a failure) and acknowledge it.

    A report repeated under an ExecID that already settled (the solver retrying after a
    reconnect, its acknowledgement lost) settles nothing and is acknowledged again."""
    repeated = _repeated_report(command, book, find_settled)
    if repeated is not None:
        return repeated
    rfq, quote = _winning_context(command, book)
    if command.outcome is ExecutionOutcome.FAILED:
        changes = execution_failed(rfq, quote, command, now)
        changes.outbound.append(_ack(command, rfq.symbol, None, None))
        return changes
    quoted = quoted_price(rfq, quote)
    price, quantity = check_fill(rfq, quoted, command.last_price, command.last_quantity)
    settled, intents = settle(rfq, quote, price, quantity, margin)
    partial = quantity < rfq.quantity
    filled = rfq.apply(Trigger.FILL, now).apply(
        Trigger.SETTLE_PARTIAL if partial else Trigger.SETTLE, now, filled_quantity=quantity, average_price=price)
    changes = Changeset(rfqs=[filled], ledger=intents)
    # The NBBO at the solver's execution when it reports one; else the gateway's when it settles.
    measured_against = command.reported_nbbo() or nbbo
    changes.fills.append(FillRecord(rfq.rfq_id, quote.quote_id, command.exec_id, price, quantity, now,
                                    *(measured_against or (None, None))))
    changes.events.append(RfqFilled(rfq_id=rfq.rfq_id, occurred_at=now, exec_id=command.exec_id, price=price,
                                    quantity=quantity, quoted_price=quoted, partial=partial))
    changes.events.append(RfqSettled(rfq_id=rfq.rfq_id, occurred_at=now, cash_amount=settled.requester_amount
                                     if rfq.side is Side.BUY else settled.solver_amount,
                                     shares=quantity, cash_released=_cash_released(rfq, quoted, settled)))
    changes.outbound.append(requester_report(filled, out.ReportKind.FILL, out.fill_exec_id(rfq.rfq_id), quote,
                                             last_price=price, last_quantity=quantity))
    if partial:
        changes.outbound.append(requester_report(
            filled, out.ReportKind.REMAINDER_RELEASED, f"{rfq.rfq_id}-done", quote,
            text=f"partial fill: {rfq.quantity - quantity} not filled; locked funds released"))
    changes.outbound.append(_ack(command, rfq.symbol, price, quantity))
    return changes


def _repeated_report(command: ReportExecution, book: RfqBook, find_settled: FindSettledFill) -> Changeset | None:
    """The acknowledgement of a fill already settled under this ExecID, or None for a new report."""
    rfq_id = parse_acceptance_id(command.quote_resp_id)
    if rfq_id is None:
        return None
    rfq = book.rfq(rfq_id)
    if rfq is not None and rfq.state is RfqState.ACCEPTED_BINDING:
        return None  # the common case, answered from memory: not settled yet
    earlier = find_settled(rfq_id, command.exec_id)
    if earlier is None or earlier.solver != command.solver:
        return None
    return Changeset(outbound=[_ack(command, earlier.symbol, earlier.last_price, earlier.last_quantity,
                                    text="already settled under this ExecID")])


def _ack(command: ReportExecution, symbol: str, price: Decimal | None, quantity: Decimal | None,
         text: str | None = None) -> out.ExecutionAck:
    return out.ExecutionAck(to=command.solver, quote_resp_id=command.quote_resp_id, exec_id=command.exec_id,
                            status=out.ExecutionAckStatus.ACCEPTED, symbol=symbol, last_price=price,
                            last_quantity=quantity, text=text)


def check_fill(rfq: Rfq, quoted: Decimal, price: Decimal | None,
               quantity: Decimal | None) -> tuple[Decimal, Decimal]:
    """The fill's (price, quantity) if the solver may settle it; DomainRejection otherwise."""
    if price is None or quantity is None or price <= 0 or quantity <= 0:
        raise DomainRejection(RejectReason.OTHER, "a fill needs positive LastPx and LastQty")
    if quantity > rfq.quantity:
        raise DomainRejection(RejectReason.INVALID_QUANTITY,
                              f"fill quantity {quantity} exceeds quoted quantity {rfq.quantity}")
    worse = price > quoted if rfq.side is Side.BUY else price < quoted
    if worse:
        raise DomainRejection(RejectReason.INVALID_PRICE, f"fill price {price} is worse than quoted {quoted}")
    return price, quantity


def settle(rfq: Rfq, quote: Quote, price: Decimal, quantity: Decimal,
           margin: MarginTerms | None = None) -> tuple[Legs, list[LedgerIntent]]:
    """Post both holds at the settle price and quantity; the rest of each hold is released.

    With margin: a buyer's cash beyond its hold is settled through post-trade equity (borrowed
    within MMF), and a seller's proceeds repay its borrow."""
    amounts = legs(rfq, price, quantity)
    requester_hold, solver_hold = holds_for(rfq.rfq_id)
    solver_locked = legs(rfq, quoted_price(rfq, quote), rfq.quantity).solver_amount
    from_hold = min(amounts.solver_amount, solver_locked)
    requester_post: LedgerIntent = PostHold(requester_hold, amounts.requester_amount, quote.solver_account)
    if margin is not None and rfq.side is Side.BUY:
        requester_post = PostHoldWithMargin(
            PostHold(requester_hold, amounts.requester_amount, quote.solver_account), rfq.requester_account,
            margin.marks(), margin.parameters, DomainRejection(
                RejectReason.INSUFFICIENT_FUNDS, "the buyer's collateral no longer covers the borrow at MMF"))
    solver_post = PostHold(solver_hold, from_hold, rfq.requester_account)
    # A margin buy borrows against the shares it bought: they reach the buyer before its cash leg settles.
    intents: list[LedgerIntent] = ([solver_post, requester_post] if isinstance(requester_post, PostHoldWithMargin)
                                   else [requester_post, solver_post])
    if amounts.solver_amount > from_hold:
        # A selling requester's price improvement can exceed the solver's cash hold
        # (locked at the quoted bid); the solver pays the difference from available.
        intents.append(TransferFunds(
            quote.solver_account, rfq.requester_account, amounts.solver_asset, amounts.solver_amount - from_hold,
            idempotency_key=f"improve:{solver_hold}", description=f"price improvement rfq {rfq.rfq_id}",
            if_insufficient=DomainRejection(RejectReason.INSUFFICIENT_FUNDS,
                                            "solver cannot fund the price improvement it reported")))
    if margin is not None and rfq.side is Side.SELL:
        intents.append(RepayBorrow(rfq.requester_account, f"repay:rfq-{rfq.rfq_id}"))
    return amounts, intents


def _cash_released(rfq: Rfq, quoted: Decimal, settled: Legs) -> Decimal:
    locked = legs(rfq, quoted, rfq.quantity)
    if rfq.side is Side.BUY:
        return locked.requester_amount - settled.requester_amount
    return locked.solver_amount - settled.solver_amount


def execution_failed(rfq: Rfq, quote: Quote, command: ReportExecution | None, now: datetime,
                     text: str | None = None) -> Changeset:
    """The solver could not execute (or never said it did): void both holds, end the RFQ."""
    failed = rfq.apply(Trigger.EXECUTION_FAILED, now)
    text = text or (command.text if command else None) or "solver could not execute"
    changes = Changeset(rfqs=[failed], ledger=[VoidHold(hold_id) for hold_id in holds_for(rfq.rfq_id)])
    changes.events.append(RfqExecutionFailed(rfq_id=rfq.rfq_id, occurred_at=now, text=text))
    changes.outbound.append(requester_report(failed, out.ReportKind.REJECTED, f"{rfq.rfq_id}-rej", quote,
                                             text=f"{text}; locked funds released"))
    return changes


def settlement_timed_out(rfq: Rfq, book: RfqBook, now: datetime, timeout_s: float) -> Changeset:
    """No execution report within the timeout: the holds expire (voided), both sides are told."""
    assert rfq.accepted_quote_id is not None, "a timed-out RFQ was accepted"
    quote = book.quote(rfq.accepted_quote_id)
    assert quote is not None, "an accepted RFQ keeps its winning quote"
    changes = execution_failed(rfq, quote, None, now,
                               text=f"no execution report from the solver within {timeout_s:g} s")
    changes.outbound.append(out.QuoteStatusReport(
        to=quote.solver, quote_req_id=rfq.solver_query_id(), quote_id=quote.solver_quote_id, symbol=rfq.symbol,
        status=out.QuoteAck.EXPIRED, text="acceptance expired: no execution report in time; holds voided"))
    return changes
