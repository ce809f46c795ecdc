"""Handlers for RFQ intake: validation and gating, then fan-out to solvers.

Each returns a Changeset or raises DomainRejection; the engine persists the
changeset in one transaction and only then applies it and sends its messages.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, localcontext

from core.money import CASH_ASSET, MONEY_CONTEXT
from core.refusal import RejectReason
from core.types import RfqId, SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.commands import RequestQuote
from gateway.domain.errors import DomainRejection
from gateway.domain.events import RfqCreated
from gateway.domain.ledger_intents import BalanceReader
from gateway.domain.policy import Counterparty, GatewayPolicy
from gateway.domain.rfq import ExecutionMode, Rfq, Trigger
from gateway.domain.types import cash_paid_by_requester

MAX_QUANTITY = Decimal("1000000000")


def parse_solver_query_id(quote_req_id: str) -> RfqId | None:
    prefix, _, number = quote_req_id.partition("-")
    if prefix != "rfq" or not number.isdigit():
        return None
    return RfqId(int(number))


def validate_request(command: RequestQuote, policy: GatewayPolicy, book: RfqBook, now: datetime,
                     id_taken: Callable[[SessionName, str], bool] = lambda requester, client_id: False
                     ) -> Counterparty:
    """Everything that can refuse an RFQ before any solver hears of it, cheapest first.

    `id_taken` answers for ids no longer (or not yet) in memory: RFQs before a restart, or
    terminal RFQs the book has forgotten."""
    party = policy.counterparty(command.requester)
    if party is None or not party.role.can_request():
        raise DomainRejection(RejectReason.NOT_AUTHORIZED, f"session {command.requester} may not request quotes")
    if (book.rfq_by_client_id(command.requester, command.client_req_id) is not None
            or id_taken(command.requester, command.client_req_id)):
        raise DomainRejection(RejectReason.DUPLICATE_ID, f"duplicate id {command.client_req_id}")
    if book.open_rfq_count(command.requester) >= party.max_open_rfqs:
        raise DomainRejection(RejectReason.THROTTLED, f"throttled: {command.requester} has "
                              f"{book.open_rfq_count(command.requester)} open RFQs (limit {party.max_open_rfqs})")
    if command.symbol not in policy.symbols:
        raise DomainRejection(RejectReason.UNKNOWN_SYMBOL, f"unknown symbol {command.symbol}")
    if command.quantity <= 0:
        raise DomainRejection(RejectReason.INVALID_QUANTITY, f"quantity {command.quantity} must be positive")
    if command.quantity > MAX_QUANTITY:
        raise DomainRejection(RejectReason.INVALID_QUANTITY,
                              f"quantity {command.quantity} exceeds the maximum {MAX_QUANTITY}")
    if command.limit_price is not None and command.limit_price <= 0:
        raise DomainRejection(RejectReason.INVALID_PRICE, f"limit price {command.limit_price} must be positive")
    if command.mode is ExecutionMode.IMMEDIATE and command.limit_price is None:
        raise DomainRejection(RejectReason.INVALID_PRICE, "Immediate execution needs a limit price (44)")
    refusal = policy.trading.check(command.symbol, command.quantity, now) if policy.trading else None
    if refusal is None and policy.compliance is not None:
        refusal = policy.compliance.authorize(party.account, command.symbol)
    if refusal is not None:
        raise DomainRejection(refusal.reason, refusal.text)
    return party


def check_buying_power(command: RequestQuote, policy: GatewayPolicy, account: str, balances: BalanceReader) -> None:
    """A buy whose worst-case cost exceeds available cash, or a sell of shares not held, never reaches a solver."""
    if command.side is Side.SELL:
        held = balances.available(account, command.symbol)
        if held < command.quantity:
            raise DomainRejection(RejectReason.INSUFFICIENT_FUNDS,
                                  f"insufficient {command.symbol}: {held} available, {command.quantity} to sell")
        return
    worst_price = command.limit_price
    if worst_price is None:
        reference = policy.reference_ask(command.symbol)
        if reference is None:
            return  # no bound is knowable; the lock at acceptance still refuses what cannot be paid
        with localcontext(MONEY_CONTEXT):
            worst_price = reference * (1 + policy.buying_power_buffer)
    worst_cost = cash_paid_by_requester(worst_price, command.quantity)
    available = balances.available(account, CASH_ASSET)
    if worst_cost > available and policy.margin is not None:
        refusal = policy.margin.covers(balances, account, command.symbol, command.quantity, worst_cost)
        if refusal is None:
            return
        raise DomainRejection(RejectReason.INSUFFICIENT_FUNDS, f"insufficient buying power: {refusal}")
    if worst_cost > available:
        raise DomainRejection(RejectReason.INSUFFICIENT_FUNDS,
                              f"insufficient buying power: worst case {worst_cost} {CASH_ASSET}, {available} available")


def request_quote(command: RequestQuote, policy: GatewayPolicy, book: RfqBook, balances: BalanceReader, now: datetime,
                  id_taken: Callable[[SessionName, str], bool] = lambda requester, client_id: False) -> Changeset:
    party = validate_request(command, policy, book, now, id_taken)
    check_buying_power(command, policy, party.account, balances)
    received = Rfq(
        rfq_id=book.allocate_rfq_id(), requester=command.requester, requester_account=party.account,
        client_req_id=command.client_req_id, symbol=command.symbol, side=command.side,
        quantity=command.quantity, limit_price=command.limit_price, created_at=now,
        submission_deadline=now + policy.submission_window(command.symbol),
        acceptance_deadline=now + policy.total_window(command.symbol), updated_at=now,
        mode=command.mode, origin=command.origin,
    )
    rfq = received.apply(Trigger.OPEN, now)
    changes = Changeset(rfqs=[rfq])
    changes.events.append(RfqCreated(
        rfq_id=rfq.rfq_id, occurred_at=now, requester=rfq.requester, symbol=rfq.symbol,
        side=rfq.side.value, quantity=rfq.quantity, limit_price=rfq.limit_price,
    ))
    if rfq.is_order:
        changes.outbound.append(out.RequesterReport(
            to=rfq.requester, kind=out.ReportKind.NEW, cl_ord_id=rfq.client_req_id, order_id=f"rfq-{rfq.rfq_id}",
            exec_id=f"{rfq.rfq_id}-new", symbol=rfq.symbol, side=rfq.side, order_quantity=rfq.quantity,
            cum_quantity=Decimal(0), average_price=None))
    for solver in eligible_solvers(rfq, policy, book):
        changes.outbound.append(out.ForwardQuoteRequest(
            to=solver, quote_req_id=rfq.solver_query_id(), symbol=rfq.symbol, side=rfq.side,
            quantity=rfq.quantity, expires_at=rfq.submission_deadline,
        ))
    return changes


def eligible_solvers(rfq: Rfq, policy: GatewayPolicy, book: RfqBook) -> list[SessionName]:
    """Logged-on, enabled solver sessions other than the requester itself."""
    solvers: list[SessionName] = []
    for session in sorted(book.logged_on - book.disabled_solvers):
        party = policy.counterparty(session)
        if session != rfq.requester and party is not None and party.role.can_quote():
            solvers.append(session)
    return solvers
