"""Expiry: an RFQ nobody accepted by its deadline ends with nothing locked.
AwaitAccept RFQs live until the acceptance deadline; Immediate RFQs and orders
end with the submission window (no quote can arrive after it)."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.events import RfqExpired
from gateway.domain.quotes import QuoteStatus
from gateway.domain.rfq import Rfq, RfqState, Trigger
from gateway.handlers.settlement import retire_other_quotes

EXPIRIES_PER_TICK = 500  # bound the work one tick does; the next tick takes the rest


def due_for_expiry(book: RfqBook, now: datetime) -> list[Rfq]:
    """RFQs still quoting at their deadline, earliest first (popped from the book's deadline queue;
    an entry of an RFQ that moved on is stale and dropped)."""
    due = []
    for deadline, rfq_id in book.quoting_deadlines.pop_due(now, EXPIRIES_PER_TICK):
        rfq = book.rfq(rfq_id)
        if rfq is not None and rfq.state is RfqState.QUOTING and rfq.quoting_deadline == deadline:
            due.append(rfq)
    return due


def due_for_settlement_timeout(book: RfqBook, now: datetime, timeout: timedelta) -> list[Rfq]:
    """Accepted RFQs whose solver has been silent too long (the hold's expiry)."""
    due = []
    for accepted_at, rfq_id in book.accepted_at.pop_due(now - timeout, EXPIRIES_PER_TICK):
        rfq = book.rfq(rfq_id)
        if rfq is not None and rfq.state is RfqState.ACCEPTED_BINDING and (rfq.updated_at or rfq.created_at) == accepted_at:
            due.append(rfq)
    return due


def expire(rfq: Rfq, book: RfqBook, now: datetime) -> Changeset:
    expired = rfq.apply(Trigger.EXPIRE, now)
    changes = Changeset(rfqs=[expired], presented={rfq.rfq_id: None})
    quotes_received = len(book.quotes(rfq.rfq_id))
    retire_other_quotes(expired, book, changes, QuoteStatus.EXPIRED, "RFQ expired")
    changes.events.append(RfqExpired(rfq_id=rfq.rfq_id, occurred_at=now, quotes_received=quotes_received))
    text = f"RFQ expired unaccepted after {quotes_received} quote(s)"
    if rfq.is_order:
        limit = f" within limit {rfq.limit_price}" if rfq.limit_price is not None else ""
        changes.outbound.append(out.RequesterReport(
            to=rfq.requester, kind=out.ReportKind.EXPIRED, cl_ord_id=rfq.client_req_id,
            order_id=f"rfq-{rfq.rfq_id}", exec_id=f"{rfq.rfq_id}-expired", symbol=rfq.symbol, side=rfq.side,
            order_quantity=rfq.quantity, cum_quantity=Decimal(0), average_price=None,
            text=f"no quote{limit} in the window; {quotes_received} quote(s) received"))
    else:
        changes.outbound.append(out.QuoteStatusReport(
            to=rfq.requester, quote_req_id=rfq.client_req_id, quote_id=None, symbol=rfq.symbol,
            status=out.QuoteAck.EXPIRED, text=text))
    return changes
