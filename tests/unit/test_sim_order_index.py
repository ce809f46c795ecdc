"""The matching engine's order indices stay bounded: finished orders leave the live indices, a market
update looks only at the resting orders of the symbols that moved, and finished orders are forgotten
once DONE_ORDER_RETENTION_DAYS have passed (venue_sim.order_index)."""
from __future__ import annotations

import random
from datetime import datetime, timedelta
from decimal import Decimal

from core.clock import FakeClock
from core.types import Side
from tests.unit.test_sim_market import NOW, REFERENCE_QUOTES
from venue_sim.events import OrderCanceled, OrderFilled, RejectCode
from venue_sim.market import ExchangeQuote, Market, SymbolMarket, TakenLiquidity
from venue_sim.matching import MatchingEngine
from venue_sim.order_index import DONE_ORDER_RETENTION_DAYS
from venue_sim.orders import OrderState

D = Decimal


class CountingMarket(Market):
    """A market that notes the symbol of every order the engine tries to match (one take per order looked at)."""

    def __init__(self, symbols: dict[str, Decimal], seed: int) -> None:
        super().__init__(symbols, seed)
        self.looked_at: list[str] = []

    def take(self, symbol: str, side: Side, quantity: Decimal, limit_price: Decimal,
             now: datetime) -> TakenLiquidity | None:
        self.looked_at.append(symbol)
        return super().take(symbol, side, quantity, limit_price, now)


def two_symbol_venue() -> CountingMarket:
    market = CountingMarket.from_symbol_markets([
        SymbolMarket.with_quotes("AAPL", REFERENCE_QUOTES, random.Random(7)),
        SymbolMarket.with_quotes("MSFT", REFERENCE_QUOTES, random.Random(8)),
    ])
    assert isinstance(market, CountingMarket)
    market.looked_at = []
    return market


def lower(quotes, delta: Decimal) -> list[ExchangeQuote]:
    return [ExchangeQuote(q.venue, q.bid - delta, q.bid_size, q.ask - delta, q.ask_size) for q in quotes]


def fills(events) -> list:
    return [e.fill for e in events if isinstance(e, OrderFilled)]


def test_a_market_update_looks_only_at_the_resting_orders_of_the_symbols_that_moved():
    market = two_symbol_venue()
    engine = MatchingEngine(market, FakeClock(NOW).now, random.Random(5), id_prefix="T")
    for number, limit in enumerate(("227.00", "227.10")):  # below the 227.44 offer: they rest
        engine.submit(f"a{number}", "AAPL", "buy", D(100), D(limit), "day")
    engine.submit("m0", "MSFT", "buy", D(100), D("227.00"), "day")
    engine.submit("done", "AAPL", "buy", D(100), D("227.44"), "ioc")  # fills at once: never rests
    assert engine.index_sizes().resting == {"AAPL": 2, "MSFT": 1}
    market.looked_at = []
    assert engine.on_market_update(["MSFT"]) == []
    assert market.looked_at == ["MSFT"]
    market.looked_at = []
    assert engine.on_market_update() == []
    assert sorted(market.looked_at) == ["AAPL", "AAPL", "MSFT"]  # the finished IOC is not looked at


def test_finished_orders_leave_the_live_indices_but_still_answer_until_the_retention_ends():
    market = two_symbol_venue()
    clock = FakeClock(NOW)
    engine = MatchingEngine(market, clock.now, random.Random(5), id_prefix="T")
    for number, limit in enumerate(("227.00", "227.10", "227.20")):
        engine.submit(f"a{number}", "AAPL", "buy", D(100), D(limit), "day")
    engine.submit("m0", "MSFT", "buy", D(100), D("227.42"), "day")
    engine.submit("m1", "MSFT", "buy", D(100), D("227.41"), "day")
    engine.submit("ioc", "AAPL", "buy", D(100), D("227.44"), "ioc")  # filled: finished at once
    engine.submit("bad", "AAPL", "short", D(100), D("227.44"), "day")  # rejected: finished at once
    sizes = engine.index_sizes()
    assert (sizes.resting, sizes.live_day_orders, sizes.answerable) == ({"AAPL": 3, "MSFT": 2}, 5, 7)

    assert isinstance(engine.cancel("a0", "x0")[0], OrderCanceled)
    market.requote("MSFT", lower(REFERENCE_QUOTES, D("0.03")))  # MSFT offer 227.41: both MSFT orders fill
    assert [f.cl_ord_id for f in fills(engine.on_market_update())] == ["m0", "m1"]
    sizes = engine.index_sizes()
    assert (sizes.resting, sizes.live_day_orders, sizes.answerable) == ({"AAPL": 2}, 2, 7)
    assert engine.status("m0").state is OrderState.FILLED  # finished orders still answer status queries
    (too_late,) = engine.cancel("m0", "x1")
    assert too_late.reject.code is RejectCode.TOO_LATE_TO_CANCEL
    assert len(engine.orders()) == 7  # and mass status

    clock.advance(timedelta(days=DONE_ORDER_RETENTION_DAYS + 1).total_seconds())
    expired = engine.on_market_update()  # the two AAPL Day orders end; older finished orders are forgotten
    assert [e.order.cl_ord_id for e in expired if isinstance(e, OrderCanceled)] == ["a1", "a2"]
    sizes = engine.index_sizes()
    assert (sizes.resting, sizes.live_day_orders, sizes.answerable) == ({}, 0, 2)
    assert [o.cl_ord_id for o in engine.orders()] == ["a1", "a2"]
    assert engine.status("m0") is None
    (unknown,) = engine.cancel("m0", "x2")
    assert unknown.reject.code is RejectCode.UNKNOWN_ORDER
