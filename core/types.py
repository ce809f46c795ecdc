"""Identifiers and the trade side every layer shares: typed, so an RFQ id is never a quote id."""
from __future__ import annotations

from enum import StrEnum
from typing import NewType

RfqId = NewType("RfqId", int)
QuoteId = NewType("QuoteId", str)  # the gateway's own quote id, shown to requesters
SessionName = NewType("SessionName", str)  # a FIX counterparty, by its CompID


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> "Side":
        return Side.SELL if self is Side.BUY else Side.BUY
