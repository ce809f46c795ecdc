from datetime import timedelta
from decimal import Decimal

import pytest

from broker.feeds import InvalidQuote, PriceFeed, ReferencePrices
from core.clock import FakeClock

D = Decimal


def test_primary_when_fresh_fallback_when_primary_stale_none_when_both_stale():
    clock = FakeClock()
    primary, fallback = PriceFeed("pyth-lazer"), PriceFeed("dxfeed")
    prices = ReferencePrices(primary, fallback, staleness_s=2.0, clock=clock)
    assert prices.reference("AAPL") is None
    primary.update("AAPL", D("227.43"), D("227.44"), clock.now())
    fallback.update("AAPL", D("227.42"), D("227.45"), clock.now() + timedelta(seconds=1.5))
    assert prices.fresh_quote("AAPL")[0] == "pyth-lazer"
    clock.advance(2.01)
    assert prices.fresh_quote("AAPL")[0] == "dxfeed"
    assert prices.reference("AAPL") == (D("227.42"), D("227.45"))
    clock.advance(1.5)
    assert prices.reference("AAPL") is None


def test_an_older_update_never_overwrites_a_newer_one_and_bad_quotes_are_refused():
    clock = FakeClock()
    feed = PriceFeed("pyth-lazer")
    feed.update("AAPL", D("1.00"), D("1.01"), clock.now())
    feed.update("AAPL", D("2.00"), D("2.01"), clock.now() - timedelta(seconds=1))
    assert feed.latest("AAPL").bid == D("1.00")
    with pytest.raises(InvalidQuote):
        feed.update("AAPL", D("2.00"), D("1.00"), clock.now())
