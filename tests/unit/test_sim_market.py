"""Simulated exchanges and NBBO construction (broker_sim.market)."""
from __future__ import annotations

import random
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from venue_sim.errors import InvalidQuote
from venue_sim.market import TICK, US_LIT_EXCHANGES, ExchangeQuote, Market, SymbolMarket, UnknownSymbol, compute_nbbo

NOW = datetime(2025, 3, 14, 14, 42, 13, 482000, tzinfo=timezone.utc)
D = Decimal

# The reference document's AAPL example (section 1 / section 4).
REFERENCE_QUOTES = (
    ExchangeQuote("NYSE", D("227.42"), D(300), D("227.45"), D(200)),
    ExchangeQuote("NASDAQ", D("227.43"), D(500), D("227.46"), D(100)),
    ExchangeQuote("IEX", D("227.41"), D(200), D("227.44"), D(400)),
    ExchangeQuote("CBOE BZX", D("227.42"), D(150), D("227.45"), D(300)),
    ExchangeQuote("NYSE Arca", D("227.43"), D(400), D("227.47"), D(200)),
    ExchangeQuote("CBOE EDGX", D("227.40"), D(100), D("227.44"), D(250)),
)


def reference_market() -> SymbolMarket:
    return SymbolMarket.with_quotes("AAPL", REFERENCE_QUOTES, random.Random(7))


def test_there_are_sixteen_distinct_lit_exchanges():
    assert len(US_LIT_EXCHANGES) == 16
    assert len(set(US_LIT_EXCHANGES)) == 16
    assert {"NYSE", "NASDAQ", "IEX", "MEMX", "LTSE", "NYSE Chicago"} <= set(US_LIT_EXCHANGES)


def test_nbbo_reproduces_the_reference_example():
    nbbo = compute_nbbo("AAPL", REFERENCE_QUOTES, NOW)
    assert (nbbo.bid, nbbo.bid_size) == (D("227.43"), D(900))
    assert (nbbo.ask, nbbo.ask_size) == (D("227.44"), D(650))
    assert set(nbbo.bid_venues) == {"NASDAQ", "NYSE Arca"}
    assert set(nbbo.ask_venues) == {"IEX", "CBOE EDGX"}
    assert nbbo.as_of == NOW
    assert nbbo.ask - nbbo.bid == D("0.01")


def test_symbol_market_built_from_quotes_reports_the_same_nbbo():
    nbbo = reference_market().nbbo(NOW)
    assert (nbbo.bid, nbbo.bid_size, nbbo.ask, nbbo.ask_size) == (D("227.43"), D(900), D("227.44"), D(650))


def test_quote_invariants_reject_a_crossed_venue_and_off_tick_prices():
    with pytest.raises(InvalidQuote):
        ExchangeQuote("NYSE", D("10.02"), D(100), D("10.01"), D(100))
    with pytest.raises(InvalidQuote):
        ExchangeQuote("NYSE", D("10.005"), D(100), D("10.01"), D(100))


def test_taking_depletes_the_touch_until_the_next_level_shows():
    market = reference_market()
    first = market.take("buy", D(500), D("227.44"), NOW)
    assert first is not None and first.quantity == D(500)
    assert first.nbbo.ask == D("227.44") and first.nbbo.ask_size == D(650)
    after = market.nbbo(NOW)
    assert (after.ask, after.ask_size) == (D("227.44"), D(150))  # 650 - 500 left at the touch
    second = market.take("buy", D(1000), D("227.44"), NOW)
    assert second is not None and second.quantity == D(150)
    assert market.nbbo(NOW).ask > D("227.44")  # touch consumed: the next level is the offer now


def test_taking_a_non_marketable_limit_takes_nothing():
    market = reference_market()
    assert market.take("buy", D(100), D("227.43"), NOW) is None
    assert market.take("sell", D(100), D("227.44"), NOW) is None
    assert market.nbbo(NOW).ask_size == D(650)


def test_generated_quotes_respect_spread_size_and_nbbo_invariants():
    market = Market({"AAPL": D("227.43"), "PENNY": D("0.02")}, seed=11)
    for _ in range(300):
        market.step_all()
        for symbol in ("AAPL", "PENNY"):
            for quote in market.quotes(symbol):
                spread_ticks = (quote.ask - quote.bid) / TICK
                assert 1 <= spread_ticks <= 5
                assert quote.bid > 0
                assert quote.bid_size % 100 == 0 and D(100) <= quote.bid_size <= D(900)
                assert quote.ask_size % 100 == 0 and D(100) <= quote.ask_size <= D(900)
            nbbo = market.nbbo(symbol, NOW)
            assert nbbo.bid < nbbo.ask
            assert nbbo.bid_size == sum(q.bid_size for q in market.quotes(symbol) if q.bid == nbbo.bid)
    assert len(market.quotes("AAPL")) == 16


def nbbo_path(seed: int, steps: int) -> list[tuple]:
    market = Market({"AAPL": D("227.43"), "MSFT": D("415.10")}, seed=seed)
    path = []
    for _ in range(steps):
        market.step_all()
        for symbol in ("AAPL", "MSFT"):
            n = market.nbbo(symbol, NOW)
            path.append((symbol, n.bid, n.bid_size, n.ask, n.ask_size, n.bid_venues, n.ask_venues))
    return path


def test_same_seed_gives_the_same_market_and_another_seed_does_not():
    assert nbbo_path(42, 50) == nbbo_path(42, 50)
    assert nbbo_path(42, 50) != nbbo_path(43, 50)


def test_the_walk_actually_moves_prices():
    market = Market({"AAPL": D("227.43")}, seed=3)
    bids = set()
    for _ in range(50):
        market.step_all()
        bids.add(market.nbbo("AAPL", NOW).bid)
    assert len(bids) > 3


def test_unknown_symbol_raises():
    market = Market({"AAPL": D("227.43")}, seed=1)
    assert market.has_symbol("AAPL") and not market.has_symbol("ZZZZ")
    with pytest.raises(UnknownSymbol):
        market.nbbo("ZZZZ", NOW)
