"""The in-house broker's quoting and order-pricing rules (pure functions).

Quote:  bid = ref_bid * (1 - margin) * (1 - aggression)
        ask = ref_ask * (1 + margin) * (1 + aggression)
rounded to the instrument's tick in the requester's favour (bid up, ask down).
Order:  limit = quoted / (1 +/- margin), clamped so the requester's fill is
never worse than quoted. Settle: the venue fill price with the margin put
back, never worse than quoted; any further venue improvement passes through.
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.types import Side

BPS = Decimal("0.0001")
SETTLE_PRICE_STEP = Decimal("0.0001")


@dataclass(frozen=True)
class TwoSidedQuote:
    bid: Decimal
    ask: Decimal


def round_to_tick(price: Decimal, tick: Decimal, up: bool) -> Decimal:
    assert tick > 0, f"tick {tick}: BrokerConfig admits only positive ticks"
    steps = (price / tick).to_integral_value(rounding=ROUND_CEILING if up else ROUND_FLOOR)
    return (steps * tick).quantize(tick)


def quote_from_reference(ref_bid: Decimal, ref_ask: Decimal, margin_bps: Decimal, aggression_bps: Decimal,
                         tick: Decimal) -> TwoSidedQuote:
    assert 0 < ref_bid <= ref_ask, "PriceFeed admits only markets with 0 < bid <= ask"
    assert margin_bps >= 0 and aggression_bps >= 0, "QuotingParameters admits no negative bps"
    margin, aggression = margin_bps * BPS, aggression_bps * BPS
    raw_bid = ref_bid * (1 - margin) * (1 - aggression)
    raw_ask = ref_ask * (1 + margin) * (1 + aggression)
    return TwoSidedQuote(bid=round_to_tick(raw_bid, tick, up=True), ask=round_to_tick(raw_ask, tick, up=False))


def venue_limit_price(requester_side: Side, quoted: Decimal, margin_bps: Decimal, tick: Decimal) -> Decimal:
    """The broker buys at the venue when the requester buys, and sells when it sells."""
    margin = margin_bps * BPS
    if requester_side is Side.BUY:
        limit = round_to_tick(quoted / (1 + margin), tick, up=True)
        return min(limit, quoted)
    limit = round_to_tick(quoted / (1 - margin), tick, up=False)
    return max(limit, quoted)


def settle_price(requester_side: Side, quoted: Decimal, venue_average: Decimal, margin_bps: Decimal) -> Decimal:
    """The price the requester settles at: never worse than quoted."""
    margin = margin_bps * BPS
    if requester_side is Side.BUY:
        marked_up = (venue_average * (1 + margin)).quantize(SETTLE_PRICE_STEP, rounding=ROUND_FLOOR)
        return min(marked_up, quoted)
    marked_down = (venue_average * (1 - margin)).quantize(SETTLE_PRICE_STEP, rounding=ROUND_CEILING)
    return max(marked_down, quoted)
