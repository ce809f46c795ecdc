"""Expiry: an RFQ nobody accepted by its acceptance deadline ends with nothing locked."""
from __future__ import annotations

from datetime import datetime

from gateway.domain import outbound as out
from gateway.domain.book import Changeset, RfqBook
from gateway.domain.events import RfqExpired
from gateway.domain.quotes import QuoteStatus
from gateway.domain.rfq import Rfq, RfqState, Trigger
from gateway.handlers_settlement import retire_other_quotes

EXPIRIES_PER_TICK = 500  # bound the work one tick does; the next tick takes the rest


def due_for_expiry(book: RfqBook, now: datetime) -> list[Rfq]:
    due = [rfq for rfq in book.rfqs_in(RfqState.QUOTING) if now >= rfq.acceptance_deadline]
    return sorted(due, key=lambda rfq: rfq.acceptance_deadline)[:EXPIRIES_PER_TICK]


def expire(rfq: Rfq, book: RfqBook, now: datetime) -> Changeset:
    expired = rfq.apply(Trigger.EXPIRE, now)
    changes = Changeset(rfqs=[expired], presented={rfq.rfq_id: None})
    quotes_received = len(book.quotes(rfq.rfq_id))
    retire_other_quotes(expired, book, changes, QuoteStatus.EXPIRED, "RFQ expired")
    changes.events.append(RfqExpired(rfq_id=rfq.rfq_id, occurred_at=now, quotes_received=quotes_received))
    changes.outbound.append(out.QuoteStatus(
        to=rfq.requester, quote_req_id=rfq.client_req_id, quote_id=None, symbol=rfq.symbol,
        status=out.QuoteAck.EXPIRED, text=f"RFQ expired unaccepted after {quotes_received} quote(s)",
    ))
    return changes
