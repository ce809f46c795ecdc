"""The simulated venue's matching engine (broker_sim.matching)."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.unit.test_sim_market import NOW, REFERENCE_QUOTES
from venue_sim.events import CancelRejected, OrderAccepted, OrderCanceled, OrderFilled, OrderRejected, RejectCode
from venue_sim.market import ExchangeQuote, Market, SymbolMarket
from venue_sim.matching import MatchingEngine
from venue_sim.orders import OrderState

D = Decimal


def reference_venue() -> Market:
    return Market.from_symbol_markets([SymbolMarket.with_quotes("AAPL", REFERENCE_QUOTES, random.Random(7))])


def engine_on(market: Market, probability: Decimal = D(0), seed: int = 5) -> MatchingEngine:
    return MatchingEngine(market, lambda: NOW, random.Random(seed), probability, id_prefix="T")


def fills(events) -> list:
    return [e.fill for e in events if isinstance(e, OrderFilled)]


def shifted(quotes, delta: Decimal) -> list[ExchangeQuote]:
    return [ExchangeQuote(q.venue, q.bid + delta, q.bid_size, q.ask + delta, q.ask_size) for q in quotes]


def test_marketable_buy_fills_at_the_national_best_offer():
    engine = engine_on(reference_venue())
    events = engine.submit("c1", "AAPL", "buy", D(100), D("227.50"), "day")
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    (fill,) = fills(events)
    assert (fill.last_px, fill.last_qty, fill.cum_qty, fill.leaves_qty) == (D("227.44"), D(100), D(100), D(0))
    assert fill.avg_px == D("227.44")
    assert (fill.nbbo_bid, fill.nbbo_offer) == (D("227.43"), D("227.44"))
    assert fill.executed_at == NOW and fill.cl_ord_id == "c1" and fill.side == "buy"
    assert engine.status("c1").state is OrderState.FILLED


def test_marketable_sell_fills_at_the_national_best_bid():
    engine = engine_on(reference_venue())
    (fill,) = fills(engine.submit("s1", "AAPL", "sell", D(300), D("227.00"), "ioc"))
    assert (fill.last_px, fill.last_qty) == (D("227.43"), D(300))


def test_ioc_beyond_the_touch_size_fills_the_touch_and_cancels_the_rest():
    engine = engine_on(reference_venue())
    events = engine.submit("c1", "AAPL", "buy", D(1000), D("227.44"), "ioc")
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled, OrderCanceled]
    (fill,) = fills(events)
    assert (fill.last_qty, fill.cum_qty, fill.leaves_qty) == (D(650), D(650), D(350))
    canceled = events[-1]
    assert canceled.cancel_cl_ord_id is None
    assert canceled.order.state is OrderState.CANCELED
    assert (canceled.order.cum_qty, canceled.order.leaves_qty) == (D(650), D(0))


def test_day_order_beyond_the_touch_rests_its_remainder():
    engine = engine_on(reference_venue())
    events = engine.submit("c1", "AAPL", "buy", D(1000), D("227.44"), "day")
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    status = engine.status("c1")
    assert status.state is OrderState.PARTIALLY_FILLED and status.leaves_qty == D(350)
    assert engine.on_market_update() == []  # the offer moved above the limit once the touch was taken


def test_a_second_order_sees_the_size_the_first_one_took():
    engine = engine_on(reference_venue())
    (first,) = fills(engine.submit("c1", "AAPL", "buy", D(500), D("227.44"), "ioc"))
    events = engine.submit("c2", "AAPL", "buy", D(500), D("227.44"), "ioc")
    (second,) = fills(events)
    assert first.last_qty == D(500) and second.last_qty == D(150)
    assert isinstance(events[-1], OrderCanceled)


def test_resting_day_order_fills_once_the_market_moves_through_its_limit():
    market = reference_venue()
    engine = engine_on(market)
    assert [type(e) for e in engine.submit("c1", "AAPL", "buy", D(200), D("227.42"), "day")] == [OrderAccepted]
    assert engine.on_market_update() == []
    market.requote("AAPL", shifted(REFERENCE_QUOTES, D("-0.03")))  # NBBO now 227.40 / 227.41
    (fill,) = fills(engine.on_market_update())
    assert (fill.last_px, fill.last_qty) == (D("227.41"), D(200))  # the touch, better than the limit
    assert (fill.nbbo_bid, fill.nbbo_offer) == (D("227.40"), D("227.41"))
    assert engine.status("c1").state is OrderState.FILLED
    assert engine.on_market_update() == []


def test_resting_order_fills_during_the_seeded_random_walk_never_through_its_limit():
    market = Market({"AAPL": D("227.43")}, seed=9)
    engine = engine_on(market)
    limit = market.nbbo("AAPL", NOW).bid
    engine.submit("c1", "AAPL", "buy", D(100), limit, "day")
    filled = []
    for _ in range(500):
        market.step_all()
        filled += fills(engine.on_market_update())
        if filled:
            break
    assert len(filled) == 1
    assert filled[0].last_px <= limit and filled[0].last_px == filled[0].nbbo_offer


def test_duplicate_cl_ord_id_is_rejected_and_never_filled_twice():
    engine = engine_on(reference_venue())
    engine.submit("c1", "AAPL", "buy", D(100), D("227.44"), "day")
    events = engine.submit("c1", "AAPL", "buy", D(100), D("227.44"), "day")
    assert [type(e) for e in events] == [OrderRejected]
    assert events[0].reject.code is RejectCode.DUPLICATE_ORDER and "c1" in events[0].reject.text
    assert engine.status("c1").cum_qty == D(100)
    assert len(engine.orders()) == 1


def test_duplicate_of_a_resting_order_is_rejected_but_another_session_may_reuse_the_id():
    engine = engine_on(reference_venue())
    engine.submit("c1", "AAPL", "buy", D(100), D("227.00"), "day")
    assert isinstance(engine.submit("c1", "AAPL", "buy", D(100), D("227.44"))[0], OrderRejected)
    assert engine.status("c1").cum_qty == D(0)
    other = engine.submit("c1", "AAPL", "buy", D(100), D("227.44"), owner="CLIENT2")
    assert len(fills(other)) == 1
    assert [o.owner for o in engine.orders("CLIENT2")] == ["CLIENT2"]


@pytest.mark.parametrize(
    ("symbol", "side", "quantity", "price", "tif", "order_type", "code"),
    [
        ("ZZZZ", "buy", D(100), D("10"), "day", "limit", RejectCode.UNKNOWN_SYMBOL),
        ("AAPL", "buy", D(0), D("227.44"), "day", "limit", RejectCode.INVALID_QUANTITY),
        ("AAPL", "buy", D(-5), D("227.44"), "day", "limit", RejectCode.INVALID_QUANTITY),
        ("AAPL", "buy", D("1.5"), D("227.44"), "day", "limit", RejectCode.INVALID_QUANTITY),
        ("AAPL", "buy", D(100), D(0), "day", "limit", RejectCode.INVALID_PRICE),
        ("AAPL", "buy", D(100), None, "day", "limit", RejectCode.INVALID_PRICE),
        ("AAPL", "short", D(100), D("227.44"), "day", "limit", RejectCode.INVALID_SIDE),
        ("AAPL", "buy", D(100), D("227.44"), "gtc", "limit", RejectCode.INVALID_TIME_IN_FORCE),
        ("AAPL", "buy", D(100), D("227.44"), "day", "market", RejectCode.UNSUPPORTED_ORDER_TYPE),
    ],
)
def test_invalid_orders_are_rejected_with_a_reason(symbol, side, quantity, price, tif, order_type, code):
    market = reference_venue()
    engine = engine_on(market)
    events = engine.submit("r1", symbol, side, quantity, price, tif, order_type=order_type)
    assert [type(e) for e in events] == [OrderRejected]
    assert events[0].reject.code is code and events[0].reject.text
    assert engine.status("r1").state is OrderState.REJECTED
    assert market.nbbo("AAPL", NOW).ask_size == D(650)  # nothing was taken


def test_cancel_of_a_resting_order_and_cancel_rejects():
    market = reference_venue()
    engine = engine_on(market)
    engine.submit("c1", "AAPL", "buy", D(200), D("227.42"), "day")
    (canceled,) = engine.cancel("c1", "x1")
    assert isinstance(canceled, OrderCanceled) and canceled.cancel_cl_ord_id == "x1"
    assert canceled.order.state is OrderState.CANCELED and canceled.order.leaves_qty == D(0)
    market.requote("AAPL", shifted(REFERENCE_QUOTES, D("-0.03")))
    assert engine.on_market_update() == []  # a canceled order never fills
    (again,) = engine.cancel("c1", "x2")
    assert isinstance(again, CancelRejected) and again.reject.code is RejectCode.TOO_LATE_TO_CANCEL
    (unknown,) = engine.cancel("nope", "x3")
    assert isinstance(unknown, CancelRejected) and unknown.reject.code is RejectCode.UNKNOWN_ORDER


def test_cancel_during_venue_latency_prevents_the_fill():
    engine = engine_on(reference_venue())
    assert isinstance(engine.accept("c1", "AAPL", "buy", D(100), D("227.44"))[0], OrderAccepted)
    assert engine.on_market_update() == []  # not armed until its first matching attempt
    engine.cancel("c1", "x1")
    assert engine.execute("c1") == []
    assert engine.status("c1").cum_qty == D(0)


def test_avg_px_is_exact_over_fills_at_different_prices():
    quotes = [ExchangeQuote("NYSE", D("9.99"), D(100), D("10.00"), D(100)),
              ExchangeQuote("NASDAQ", D("9.98"), D(100), D("10.01"), D(200))]
    market = Market.from_symbol_markets([SymbolMarket.with_quotes("XYZ", quotes, random.Random(1))])
    engine = engine_on(market)
    first = fills(engine.submit("c1", "XYZ", "buy", D(300), D("10.01"), "day"))
    # NYSE's 100 @ 10.00 is taken; its next level shows at 10.01 beside NASDAQ's 200.
    second = fills(engine.on_market_update())
    assert [(f.last_px, f.last_qty) for f in first + second] == [(D("10.00"), D(100)), (D("10.01"), D(200))]
    assert second[0].avg_px == D("10.006667")  # 3002 / 300 = 10.00666..., half-even at 6 dp
    assert engine.status("c1").avg_px == D("10.006667")


@settings(max_examples=200, deadline=None)
@given(
    spread_ticks=st.integers(min_value=1, max_value=5),
    limit_ticks_beyond=st.integers(min_value=0, max_value=3),
    side=st.sampled_from(["buy", "sell"]),
    seed=st.integers(min_value=0, max_value=10_000),
)
def test_price_improvement_is_never_worse_than_nbbo_nor_through_the_limit(spread_ticks, limit_ticks_beyond,
                                                                         side, seed):
    bid = D("50.00")
    ask = bid + D("0.01") * spread_ticks
    market = Market.from_symbol_markets(
        [SymbolMarket.with_quotes("XYZ", [ExchangeQuote("IEX", bid, D(500), ask, D(500))], random.Random(seed))])
    engine = engine_on(market, probability=D(1), seed=seed)
    beyond = D("0.01") * limit_ticks_beyond
    limit = ask + beyond if side == "buy" else bid - beyond
    (fill,) = fills(engine.submit("c1", "XYZ", side, D(100), limit, "ioc"))
    assert bid <= fill.last_px <= ask
    touch = ask if side == "buy" else bid
    improvement = (touch - fill.last_px) if side == "buy" else (fill.last_px - touch)
    assert improvement > 0  # probability 1: always improved
    midpoint = (bid + ask) / 2
    assert fill.last_px == midpoint or D("0.001") <= improvement <= D("0.004")
    assert fill.last_px <= limit if side == "buy" else fill.last_px >= limit


def test_without_improvement_probability_every_fill_is_at_the_touch():
    market = Market({"AAPL": D("227.43")}, seed=2)
    engine = engine_on(market)
    for number in range(30):
        market.step_all()
        nbbo = market.nbbo("AAPL", NOW)
        (fill,) = fills(engine.submit(f"c{number}", "AAPL", "buy", D(100), nbbo.ask, "ioc"))
        assert fill.last_px == nbbo.ask == fill.nbbo_offer


def test_a_resting_day_order_expires_when_its_new_york_trading_day_ends():
    from datetime import timedelta

    from core.clock import FakeClock

    clock = FakeClock(NOW)
    market = reference_venue()
    engine = MatchingEngine(market, clock.now, random.Random(5), D(0), id_prefix="T")
    engine.submit("day-1", "AAPL", "buy", D(100), D("227.00"), "day")  # below the offer: rests
    clock.advance(60)
    assert engine.on_market_update() == []  # same trading day: still resting
    clock.advance(timedelta(days=1).total_seconds())
    (canceled,) = engine.on_market_update()
    assert isinstance(canceled, OrderCanceled) and "end of its trading day" in canceled.reason
    assert engine.status("day-1").state is OrderState.CANCELED
