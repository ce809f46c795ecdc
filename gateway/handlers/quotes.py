"""Handlers for solver quotes: submit (with Immediate auto-acceptance), cancel,
withdrawal on disconnect or operator disable, and keeping the requester's view
of the best quote current."""
from __future__ import annotations

from datetime import datetime

from core.refusal import RejectReason
from core.types import QuoteId, SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.commands import CancelQuote, SubmitQuote
from gateway.domain.errors import DomainRejection
from gateway.domain.events import QuoteReceived, QuotesWithdrawn
from gateway.domain.policy import GatewayPolicy
from gateway.domain.quotes import Quote, QuoteStatus, best_quote, is_eligible
from gateway.domain.rfq import ExecutionMode, Rfq, RfqOrigin, RfqState, Trigger
from gateway.handlers.intake import parse_solver_query_id
from gateway.handlers.settlement import accept, quoted_price


def _quoting_rfq(quote_req_id: str, symbol: str | None, book: RfqBook) -> Rfq:
    rfq_id = parse_solver_query_id(quote_req_id)
    rfq = book.rfq(rfq_id) if rfq_id is not None else None
    if rfq is None or (symbol is not None and rfq.symbol != symbol):
        raise DomainRejection(RejectReason.UNKNOWN_ID, f"unknown QuoteReqID {quote_req_id}")
    return rfq


def _check_quote_terms(command: SubmitQuote, rfq: Rfq, policy: GatewayPolicy) -> None:
    side_name = "offer" if rfq.side is Side.BUY else "bid"
    needed_price = command.offer_price if rfq.side is Side.BUY else command.bid_price
    needed_size = command.offer_size if rfq.side is Side.BUY else command.bid_size
    if needed_price is None:
        raise DomainRejection(RejectReason.INVALID_PRICE, f"a {rfq.side.value} RFQ needs an {side_name} price")
    for price in (command.bid_price, command.offer_price):
        if price is not None and price <= 0:
            raise DomainRejection(RejectReason.INVALID_PRICE, f"price {price} must be positive")
        if price is not None and not policy.is_on_tick(rfq.symbol, price):
            raise DomainRejection(RejectReason.INVALID_PRICE,
                                  f"price {price} is off the {policy.terms(rfq.symbol).tick} tick")
    if needed_size is not None and needed_size < rfq.quantity:
        raise DomainRejection(RejectReason.INVALID_QUANTITY, f"{side_name} size {needed_size} below RFQ quantity")


def submit_quote(command: SubmitQuote, policy: GatewayPolicy, book: RfqBook, now: datetime) -> Changeset:
    party = policy.counterparty(command.solver)
    if party is None or not party.role.can_quote():
        raise DomainRejection(RejectReason.NOT_AUTHORIZED, f"session {command.solver} may not quote")
    if command.solver in book.disabled_solvers:
        raise DomainRejection(RejectReason.NOT_AUTHORIZED, f"solver {command.solver} is disabled by the operator")
    rfq = _quoting_rfq(command.quote_req_id, command.symbol, book)
    if rfq.state is not RfqState.QUOTING:
        raise DomainRejection(RejectReason.WRONG_STATE, f"RFQ is {rfq.state.value}, not taking quotes")
    if now >= rfq.submission_deadline:
        raise DomainRejection(RejectReason.TOO_LATE, "submission window closed")
    _check_quote_terms(command, rfq, policy)
    sequence = book.allocate_quote_sequence()
    quote = Quote(
        quote_id=QuoteId(f"q{rfq.rfq_id}-{sequence}"), rfq_id=rfq.rfq_id, solver=command.solver,
        solver_account=party.account, solver_quote_id=command.solver_quote_id,
        bid_price=command.bid_price, offer_price=command.offer_price, bid_size=command.bid_size,
        offer_size=command.offer_size, valid_until=command.valid_until, received_at=now, sequence=sequence,
    )
    changes = Changeset(rfqs=[rfq.apply(Trigger.QUOTE, now)], quotes=[quote])
    previous = book.live_quote_of(rfq.rfq_id, command.solver)
    if previous is not None:
        changes.quotes.insert(0, previous.with_status(QuoteStatus.REPLACED))
    changes.events.append(QuoteReceived(rfq_id=rfq.rfq_id, occurred_at=now, quote_id=quote.quote_id,
                                        solver=quote.solver, bid_price=quote.bid_price,
                                        offer_price=quote.offer_price))
    changes.outbound.append(out.QuoteStatusReport(to=command.solver, quote_req_id=command.quote_req_id,
                                            quote_id=command.solver_quote_id, symbol=rfq.symbol,
                                            status=out.QuoteAck.ACCEPTED))
    if rfq.mode is ExecutionMode.IMMEDIATE and is_eligible(quote, rfq, now):
        changes.merge(accept(rfq, quote, None, book, now, now + policy.settlement_timeout, policy.margin))
    else:
        present_best_if_changed(rfq, book, changes, now)
    return changes


def cancel_quote(command: CancelQuote, book: RfqBook, now: datetime) -> Changeset:
    rfq = _quoting_rfq(command.quote_req_id, None, book)
    live = [quote for quote in book.quotes(rfq.rfq_id) if quote.solver == command.solver
            and quote.status is QuoteStatus.LIVE
            and command.solver_quote_id in (None, quote.solver_quote_id)]
    if not live:
        raise DomainRejection(RejectReason.UNKNOWN_ID, "no live quote to cancel")
    changes = Changeset(quotes=[quote.with_status(QuoteStatus.WITHDRAWN) for quote in live])
    for quote in live:
        changes.outbound.append(out.QuoteStatusReport(to=command.solver, quote_req_id=command.quote_req_id,
                                                quote_id=quote.solver_quote_id, symbol=rfq.symbol,
                                                status=out.QuoteAck.CANCELED))
    present_best_if_changed(rfq, book, changes, now)
    return changes


def withdraw_solver(solver: SessionName, book: RfqBook, now: datetime, reason: str) -> Changeset:
    """Pull every live quote of a solver at once (cancel on disconnect, operator disable)."""
    changes = Changeset()
    for rfq in book.rfqs_in(RfqState.QUOTING):
        quote = book.live_quote_of(rfq.rfq_id, solver)
        if quote is None:
            continue
        changes.quotes.append(quote.with_status(QuoteStatus.WITHDRAWN))
        present_best_if_changed(rfq, book, changes, now)
    if changes.quotes:
        changes.events.append(QuotesWithdrawn(rfq_id=None, occurred_at=now, solver=solver, reason=reason,
                                              count=len(changes.quotes)))
        changes.notes.append(f"{len(changes.quotes)} quote(s) of {solver} withdrawn: {reason}")
    return changes


REFRESHES_PER_TICK = 500  # bound one tick's work; the next tick takes the rest


def refresh_presented(book: RfqBook, now: datetime) -> Changeset:
    """A shown quote that passed its ValidUntilTime is replaced by the next best, or withdrawn."""
    changes = Changeset()
    for _, rfq_id in book.shown_until.pop_due(now, REFRESHES_PER_TICK):
        rfq = book.rfq(rfq_id)
        if rfq is None or rfq.state is not RfqState.QUOTING:
            continue
        shown = book.presented(rfq_id)
        quote = book.quote(shown) if shown is not None else None
        if quote is not None and not quote.is_valid_at(now):
            present_best_if_changed(rfq, book, changes, now)
    return changes


def present_best_if_changed(rfq: Rfq, book: RfqBook, changes: Changeset, now: datetime) -> None:
    """Show the requester the best quote whenever it changes (the seed's RequestCandidate);
    when the quote it was shown can no longer be accepted and nothing replaces it, say so."""
    if rfq.origin is not RfqOrigin.QUOTE_REQUEST or rfq.mode is not ExecutionMode.AWAIT_ACCEPT:
        return
    pending = {quote.quote_id: quote for quote in book.quotes(rfq.rfq_id)}
    pending.update({quote.quote_id: quote for quote in changes.quotes})
    best = best_quote(rfq, list(pending.values()), now)
    best_id = best.quote_id if best else None
    shown = changes.presented.get(rfq.rfq_id, book.presented(rfq.rfq_id))
    if best_id == shown:
        return
    changes.presented[rfq.rfq_id] = best_id
    if best is None:
        changes.outbound.append(out.QuoteStatusReport(
            to=rfq.requester, quote_req_id=rfq.client_req_id, quote_id=shown, symbol=rfq.symbol,
            status=out.QuoteAck.REMOVED, text="the quote shown is no longer available; no other quote"))
        return
    changes.outbound.append(out.PresentQuote(
        to=rfq.requester, client_req_id=rfq.client_req_id, quote_id=best.quote_id, symbol=rfq.symbol,
        side=rfq.side, price=quoted_price(rfq, best), size=best.size_for(rfq.side) or rfq.quantity,
        valid_until=best.valid_until,
    ))
