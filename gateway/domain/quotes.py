"""Solver quotes and the best-quote rule."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from core.types import QuoteId, RfqId, SessionName, Side
from gateway.domain.rfq import Rfq


class QuoteStatus(StrEnum):
    LIVE = "live"
    REPLACED = "replaced"  # the same solver sent a newer quote
    ACCEPTED = "accepted"
    LOST = "lost"  # another quote was accepted
    EXPIRED = "expired"  # the RFQ expired while the quote was live
    WITHDRAWN = "withdrawn"  # QuoteCancel, solver disconnected or disabled, or RFQ canceled


@dataclass(frozen=True)
class Quote:
    quote_id: QuoteId
    rfq_id: RfqId
    solver: SessionName
    solver_account: str
    solver_quote_id: str
    bid_price: Decimal | None
    offer_price: Decimal | None
    bid_size: Decimal | None
    offer_size: Decimal | None
    valid_until: datetime | None
    received_at: datetime
    sequence: int  # arrival order at the gateway; the earlier quote wins a tie
    status: QuoteStatus = QuoteStatus.LIVE

    def price_for(self, requester_side: Side) -> Decimal | None:
        """The price the requester would trade at: the offer when buying, the bid when selling."""
        return self.offer_price if requester_side is Side.BUY else self.bid_price

    def size_for(self, requester_side: Side) -> Decimal | None:
        return self.offer_size if requester_side is Side.BUY else self.bid_size

    def is_valid_at(self, now: datetime) -> bool:
        return self.valid_until is None or now < self.valid_until

    def with_status(self, status: QuoteStatus) -> "Quote":
        return replace(self, status=status)


def is_eligible(quote: Quote, rfq: Rfq, now: datetime) -> bool:
    """Could the requester accept this quote right now?"""
    price = quote.price_for(rfq.side)
    size = quote.size_for(rfq.side)
    return (
        quote.status is QuoteStatus.LIVE
        and quote.rfq_id == rfq.rfq_id
        and price is not None
        and price > 0
        and (size is None or size >= rfq.quantity)
        and quote.is_valid_at(now)
        and rfq.within_limit(price)
    )


def best_quote(rfq: Rfq, quotes: list[Quote], now: datetime) -> Quote | None:
    """Lowest offer for a buy, highest bid for a sell; the earlier quote wins a tie."""
    eligible = [quote for quote in quotes if is_eligible(quote, rfq, now)]
    if not eligible:
        return None
    return min(eligible, key=lambda quote: _rank(quote, rfq.side))


def _rank(quote: Quote, requester_side: Side) -> tuple[Decimal, int]:
    """Lower ranks better: the cheapest offer for a buy, the highest bid for a sell, then arrival."""
    price = quote.price_for(requester_side)
    assert price is not None, "an eligible quote has a price on the requester's side"
    return (price if requester_side is Side.BUY else -price), quote.sequence
