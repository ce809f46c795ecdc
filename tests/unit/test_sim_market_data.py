"""Market-data messages and their coalescing rate limit (broker_sim.market_data), without a broker."""
from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest

from tests.unit.test_sim_market import NOW, REFERENCE_QUOTES
from venue_sim.errors import LimitExceeded, VenueConfigError
from venue_sim.market import US_LIT_EXCHANGES, Market, SymbolMarket
from venue_sim.market_data import LatestPerKey, MarketDataPublisher, market_data_messages, slugify

D = Decimal


def test_venue_names_become_distinct_topic_slugs():
    assert slugify("NYSE Arca") == "nyse-arca"
    assert slugify("MIAX Pearl Equities") == "miax-pearl-equities"
    assert slugify("CBOE BZX") == "cboe-bzx"
    slugs = {slugify(name) for name in US_LIT_EXCHANGES}
    assert len(slugs) == len(US_LIT_EXCHANGES) and "nbbo" not in slugs


def test_one_update_is_every_venue_quote_then_the_nbbo_with_decimal_strings():
    market = Market.from_symbol_markets([SymbolMarket.with_quotes("AAPL", REFERENCE_QUOTES, random.Random(7))])
    messages = market_data_messages(market.snapshot("AAPL", NOW), "md", seq=12)
    topics = [topic for topic, _ in messages]
    assert topics == ["md/AAPL/nyse", "md/AAPL/nasdaq", "md/AAPL/iex", "md/AAPL/cboe-bzx", "md/AAPL/nyse-arca",
                      "md/AAPL/cboe-edgx", "md/AAPL/nbbo"]
    bodies = [json.loads(payload) for _, payload in messages]
    assert bodies[4] == {"symbol": "AAPL", "venue": "NYSE Arca", "bid": "227.43", "bid_size": "400",
                         "ask": "227.47", "ask_size": "200", "ts": "2025-03-14T14:42:13.482000+00:00", "seq": 12}
    assert bodies[-1] == {"symbol": "AAPL", "bid": "227.43", "bid_size": "900", "ask": "227.44", "ask_size": "650",
                          "bid_venues": ["NASDAQ", "NYSE Arca"], "ask_venues": ["IEX", "CBOE EDGX"],
                          "ts": "2025-03-14T14:42:13.482000+00:00", "seq": 12}


def test_slots_release_the_latest_offer_at_most_once_per_interval_per_key():
    slots: LatestPerKey[str] = LatestPerKey(min_interval_s=0.5)
    slots.offer("AAPL", "a1")
    slots.offer("MSFT", "m1")
    assert slots.take_due(100.0) == [("AAPL", "a1"), ("MSFT", "m1")]
    slots.offer("AAPL", "a2")
    slots.offer("AAPL", "a3")  # latest wins
    assert slots.take_due(100.2) == []
    assert slots.seconds_until_due(100.2) == pytest.approx(0.3)
    assert slots.take_due(100.5) == [("AAPL", "a3")]
    assert slots.coalesced == 1
    assert slots.seconds_until_due(100.5) is None  # nothing pending


def test_a_failed_release_is_restored_unless_a_newer_offer_arrived():
    slots: LatestPerKey[str] = LatestPerKey(min_interval_s=0.0)
    slots.offer("AAPL", "a1")
    (released,) = slots.take_due(1.0)
    slots.restore(*released)
    assert slots.take_due(2.0) == [("AAPL", "a1")]
    slots.offer("AAPL", "a2")
    slots.restore("AAPL", "a1")
    assert slots.take_due(3.0) == [("AAPL", "a2")]


def test_slots_are_bounded_by_the_number_of_keys():
    slots: LatestPerKey[str] = LatestPerKey(min_interval_s=0.0, max_keys=2)
    slots.offer("A", "1")
    slots.offer("B", "1")
    slots.offer("A", "2")  # a known key never counts twice
    with pytest.raises(LimitExceeded):
        slots.offer("C", "1")


def test_publisher_coalesces_snapshots_before_any_connection():
    market = Market({"AAPL": D("227.43")}, seed=3)
    publisher = MarketDataPublisher("mqtt://127.0.0.1:1", market, publish_rate_hz=2.0, monotonic=lambda: 0.0)
    for _ in range(5):
        market.step_all()
        publisher.on_nbbo(market.nbbo("AAPL", NOW))
    latest = market.snapshot("AAPL", NOW)
    assert publisher._slots.take_due(0.0) == [("AAPL", latest)]  # never started: nothing left the process
    assert publisher._slots.coalesced == 4


def test_publisher_refuses_a_wildcard_prefix_and_a_non_mqtt_url():
    market = Market({"AAPL": D("227.43")}, seed=3)
    with pytest.raises(VenueConfigError):
        MarketDataPublisher("mqtt://127.0.0.1:1883", market, 4.0, topic_prefix="md/#")
    with pytest.raises(ValueError):
        MarketDataPublisher("http://127.0.0.1:1883", market, 4.0)
