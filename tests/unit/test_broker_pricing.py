from decimal import Decimal

import pytest

from broker.pricing import quote_from_reference, round_to_tick, settle_price, venue_limit_price
from core.types import Side

TICK = Decimal("0.01")


def test_quote_is_the_reference_with_margin_rounded_in_the_requesters_favour():
    quote = quote_from_reference(Decimal("227.43"), Decimal("227.44"), Decimal(20), Decimal(0), TICK)
    # bid 227.43 x 0.998 = 226.97514 -> up to 226.98; ask 227.44 x 1.002 = 227.89488 -> down to 227.89
    assert (quote.bid, quote.ask) == (Decimal("226.98"), Decimal("227.89"))


def test_aggression_widens_on_top_of_the_margin():
    quote = quote_from_reference(Decimal("100.00"), Decimal("100.00"), Decimal(20), Decimal(10), TICK)
    # 100 x 0.998 x 0.999 = 99.7002 -> 99.71; 100 x 1.002 x 1.001 = 100.3002 -> 100.30
    assert (quote.bid, quote.ask) == (Decimal("99.71"), Decimal("100.30"))


@pytest.mark.parametrize(("price", "up", "expected"), [
    (Decimal("1.001"), True, Decimal("1.01")), (Decimal("1.009"), False, Decimal("1.00")),
    (Decimal("1.00"), True, Decimal("1.00")), (Decimal("1.00"), False, Decimal("1.00")),
])
def test_round_to_tick(price, up, expected):
    assert round_to_tick(price, TICK, up) == expected


def test_venue_limit_removes_the_margin_and_never_passes_the_quote():
    assert venue_limit_price(Side.BUY, Decimal("227.89"), Decimal(20), TICK) == Decimal("227.44")
    assert venue_limit_price(Side.SELL, Decimal("226.98"), Decimal(20), TICK) == Decimal("227.43")
    # With no margin the limit is the quoted price itself (the clamp).
    assert venue_limit_price(Side.BUY, Decimal("227.89"), Decimal(0), TICK) == Decimal("227.89")


def test_settle_price_passes_venue_improvement_through_and_is_never_worse_than_quoted():
    # Venue filled better than the limit: the requester gets the improvement.
    assert settle_price(Side.BUY, Decimal("227.89"), Decimal("227.40"), Decimal(20)) == Decimal("227.8548")
    assert settle_price(Side.SELL, Decimal("226.98"), Decimal("227.50"), Decimal(20)) == Decimal("227.0450")
    # Venue filled at a price that would be worse after the margin: clamped to the quote.
    assert settle_price(Side.BUY, Decimal("227.89"), Decimal("227.44"), Decimal(20)) == Decimal("227.89")
    assert settle_price(Side.SELL, Decimal("226.98"), Decimal("227.43"), Decimal(20)) == Decimal("226.98")
