"""Handlers for RFQ intake and quoting. Pure decisions over the book; no I/O.

Each returns a Changeset or raises DomainRejection; the engine persists the
changeset in one transaction and only then applies it and sends its messages.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.commands import RequestQuote, SubmitQuote
from gateway.domain.errors import DomainRejection
from gateway.domain.events import QuoteReceived, RfqCreated
from gateway.domain.policy import GatewayPolicy
from gateway.domain.quotes import Quote, QuoteStatus, best_quote
from gateway.domain.rfq import Rfq, RfqState, Trigger
from gateway.domain.types import QuoteId, RejectReason, RfqId, Side

MAX_QUANTITY = Decimal("1000000000")


def parse_solver_query_id(quote_req_id: str) -> RfqId | None:
    prefix, _, number = quote_req_id.partition("-")
    if prefix != "rfq" or not number.isdigit():
        return None
    return RfqId(int(number))


def validate_request(command: RequestQuote, policy: GatewayPolicy, book: RfqBook) -> None:
    party = policy.counterparty(command.requester)
    if party is None or not party.role.can_request():
        raise DomainRejection(RejectReason.NOT_AUTHORIZED, f"session {command.requester} may not request quotes")
    if book.rfq_by_client_id(command.requester, command.client_req_id) is not None:
        raise DomainRejection(RejectReason.DUPLICATE_ID, f"duplicate QuoteReqID {command.client_req_id}")
    if command.symbol not in policy.symbols:
        raise DomainRejection(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {command.symbol}")
    if not (Decimal(0) < command.quantity <= MAX_QUANTITY):
        raise DomainRejection(RejectReason.INVALID_QUANTITY, f"quantity {command.quantity} must be positive")
    if command.limit_price is not None and command.limit_price <= 0:
        raise DomainRejection(RejectReason.INVALID_PRICE, f"limit price {command.limit_price} must be positive")


def request_quote(command: RequestQuote, policy: GatewayPolicy, book: RfqBook, now: datetime) -> Changeset:
    validate_request(command, policy, book)
    party = policy.counterparty(command.requester)
    received = Rfq(
        rfq_id=book.allocate_rfq_id(), requester=command.requester, requester_account=party.account,
        client_req_id=command.client_req_id, symbol=command.symbol, side=command.side,
        quantity=command.quantity, limit_price=command.limit_price, created_at=now,
        submission_deadline=now + policy.submission_window, acceptance_deadline=now + policy.total_window,
        updated_at=now,
    )
    rfq = received.apply(Trigger.OPEN, now)
    changes = Changeset(rfqs=[rfq])
    changes.events.append(RfqCreated(
        rfq_id=rfq.rfq_id, occurred_at=now, requester=rfq.requester, symbol=rfq.symbol,
        side=rfq.side.value, quantity=rfq.quantity, limit_price=rfq.limit_price,
    ))
    for solver in sorted(book.logged_on):
        solver_party = policy.counterparty(solver)
        if solver == rfq.requester or solver_party is None or not solver_party.role.can_quote():
            continue
        changes.outbound.append(out.ForwardQuoteRequest(
            to=solver, quote_req_id=rfq.solver_query_id(), symbol=rfq.symbol, side=rfq.side,
            quantity=rfq.quantity, expires_at=rfq.submission_deadline,
        ))
    return changes


def _check_quote_prices(command: SubmitQuote, rfq: Rfq) -> None:
    needed_price = command.offer_price if rfq.side is Side.BUY else command.bid_price
    needed_size = command.offer_size if rfq.side is Side.BUY else command.bid_size
    side_name = "offer" if rfq.side is Side.BUY else "bid"
    if needed_price is None:
        raise DomainRejection(RejectReason.INVALID_PRICE, f"a {rfq.side.value} RFQ needs an {side_name} price")
    for price in (command.bid_price, command.offer_price):
        if price is not None and price <= 0:
            raise DomainRejection(RejectReason.INVALID_PRICE, f"price {price} must be positive")
    if needed_size is not None and needed_size < rfq.quantity:
        raise DomainRejection(RejectReason.INVALID_QUANTITY, f"{side_name} size {needed_size} below RFQ quantity")


def submit_quote(command: SubmitQuote, policy: GatewayPolicy, book: RfqBook, now: datetime) -> Changeset:
    party = policy.counterparty(command.solver)
    if party is None or not party.role.can_quote():
        raise DomainRejection(RejectReason.NOT_AUTHORIZED, f"session {command.solver} may not quote")
    rfq_id = parse_solver_query_id(command.quote_req_id)
    rfq = book.rfq(rfq_id) if rfq_id is not None else None
    if rfq is None or rfq.symbol != command.symbol:
        raise DomainRejection(RejectReason.UNKNOWN_ID, f"unknown QuoteReqID {command.quote_req_id}")
    if rfq.state is not RfqState.QUOTING:
        raise DomainRejection(RejectReason.WRONG_STATE, f"RFQ is {rfq.state.value}, not taking quotes")
    if now >= rfq.submission_deadline:
        raise DomainRejection(RejectReason.TOO_LATE, "submission window closed")
    _check_quote_prices(command, rfq)
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
    changes.events.append(QuoteReceived(
        rfq_id=rfq.rfq_id, occurred_at=now, quote_id=quote.quote_id, solver=quote.solver,
        bid_price=quote.bid_price, offer_price=quote.offer_price,
    ))
    changes.outbound.append(out.QuoteStatus(
        to=command.solver, quote_req_id=command.quote_req_id, quote_id=command.solver_quote_id,
        symbol=rfq.symbol, status=out.QuoteAck.ACCEPTED,
    ))
    present_best_if_changed(rfq, book, changes, now)
    return changes


def present_best_if_changed(rfq: Rfq, book: RfqBook, changes: Changeset, now: datetime) -> None:
    """Show the requester the best quote whenever it changes (the seed's RequestCandidate)."""
    pending = {quote.quote_id: quote for quote in book.quotes(rfq.rfq_id)}
    pending.update({quote.quote_id: quote for quote in changes.quotes})
    best = best_quote(rfq, list(pending.values()), now)
    best_id = best.quote_id if best else None
    if best_id == book.presented(rfq.rfq_id):
        return
    changes.presented[rfq.rfq_id] = best_id
    if best is None:
        return
    changes.outbound.append(out.PresentQuote(
        to=rfq.requester, client_req_id=rfq.client_req_id, quote_id=best.quote_id, symbol=rfq.symbol,
        side=rfq.side, price=best.price_for(rfq.side), size=best.size_for(rfq.side) or rfq.quantity,
        valid_until=best.valid_until,
    ))
