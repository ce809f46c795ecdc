"""Session gating at the simulated venue: orders only trade while a US equity session runs."""
from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal

import quickfix as fix

from marketcal.sessions import EXCHANGE_TZ, Holiday, HolidayKind, TradingCalendar
from tests.fixclient import parse
from tests.unit.test_sim_market import REFERENCE_QUOTES
from venue_sim import fix_codec
from venue_sim.events import OrderAccepted, OrderCanceled, OrderFilled, OrderRejected, RejectCode
from venue_sim.market import ExchangeQuote, Market, SymbolMarket
from venue_sim.matching import MatchingEngine
from venue_sim.orders import OrderState
from venue_sim.venue_calendar import trade_date_of

D = Decimal
THANKSGIVING = Holiday(date(2026, 11, 26), "Thanksgiving Day", HolidayKind.FULL)
BLACK_FRIDAY = Holiday(date(2026, 11, 27), "Day after Thanksgiving", HolidayKind.EARLY, time(13, 0))
CHRISTMAS = Holiday(date(2026, 12, 25), "Christmas Day", HolidayKind.FULL)
CALENDAR_2026 = TradingCalendar({h.day: h for h in (THANKSGIVING, BLACK_FRIDAY, CHRISTMAS)})


def et(year: int, month: int, day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=EXCHANGE_TZ)


class SettableClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


def reference_venue() -> Market:
    return Market.from_symbol_markets([SymbolMarket.with_quotes("AAPL", REFERENCE_QUOTES, random.Random(7))])


def gated_engine(clock: SettableClock, market: Market | None = None,
                 calendar: TradingCalendar | None = CALENDAR_2026) -> MatchingEngine:
    return MatchingEngine(market or reference_venue(), clock, random.Random(3), id_prefix="T", calendar=calendar)


def fills(events) -> list:
    return [e.fill for e in events if isinstance(e, OrderFilled)]


def fix_fields(message: fix.Message) -> dict:
    return parse(message.toString())


def test_saturday_order_is_rejected_as_exchange_closed_with_ord_rej_reason_2():
    engine = gated_engine(SettableClock(et(2026, 11, 21, 10, 0)))  # Saturday
    (rejected,) = engine.submit("c1", "AAPL", "buy", D(100), D("227.50"))
    assert isinstance(rejected, OrderRejected)
    assert rejected.reject.code is RejectCode.EXCHANGE_CLOSED
    assert rejected.reject.text == "exchange closed at 2026-11-21 10:00 ET: weekend"
    assert engine.status("c1").state is OrderState.REJECTED
    assert engine.fills() == []
    report = fix_fields(fix_codec.encode_event(rejected))
    assert (report[150], report[39], report[103]) == ("8", "8", "2")
    assert report[58] == "exchange closed at 2026-11-21 10:00 ET: weekend"


def test_monday_ten_o_clock_new_york_order_fills_and_is_dated_that_day():
    engine = gated_engine(SettableClock(et(2026, 11, 23, 10, 0)))  # Monday
    events = engine.submit("c1", "AAPL", "buy", D(100), D("227.50"), owner="BROKER")
    assert [type(e) for e in events] == [OrderAccepted, OrderFilled]
    (fill,) = fills(events)
    assert (fill.last_px, fill.account, fill.trade_date) == (D("227.44"), "BROKER", date(2026, 11, 23))
    assert engine.fills() == [fill]


def test_thanksgiving_2026_order_is_rejected_with_the_holiday_named():
    engine = gated_engine(SettableClock(et(2026, 11, 26, 10, 0)))
    (rejected,) = engine.submit("c1", "AAPL", "sell", D(100), D("227.00"))
    assert rejected.reject.code is RejectCode.EXCHANGE_CLOSED
    assert rejected.reject.text == "exchange closed at 2026-11-26 10:00 ET: NYSE holiday: Thanksgiving Day"


def test_early_close_day_trades_until_the_post_market_ends():
    clock = SettableClock(et(2026, 11, 27, 16, 59))  # post-market after the 13:00 early close
    engine = gated_engine(clock)
    assert len(fills(engine.submit("c1", "AAPL", "buy", D(100), D("227.50")))) == 1
    clock.at = et(2026, 11, 27, 17, 0)
    (rejected,) = engine.submit("c2", "AAPL", "buy", D(100), D("227.50"))
    assert rejected.reject.code is RejectCode.EXCHANGE_CLOSED and "early close" in rejected.reject.text


def test_overnight_session_trades_and_dates_fills_by_the_new_york_calendar_day():
    clock = SettableClock(et(2026, 11, 24, 22, 0))  # Tuesday evening, overnight session
    engine = gated_engine(clock)
    (evening,) = fills(engine.submit("c1", "AAPL", "buy", D(100), D("227.50")))
    clock.at = et(2026, 11, 25, 2, 0)  # same overnight session, after midnight
    (night,) = fills(engine.submit("c2", "AAPL", "buy", D(100), D("227.50")))
    assert (evening.trade_date, night.trade_date) == (date(2026, 11, 24), date(2026, 11, 25))


def test_trade_date_is_the_new_york_date_not_the_utc_date():
    # 00:30 UTC on the 24th is 19:30 ET on the 23rd (EST, UTC-5).
    assert trade_date_of(datetime(2026, 11, 24, 0, 30, tzinfo=timezone.utc)) == date(2026, 11, 23)
    assert trade_date_of(datetime(2026, 11, 24, 5, 0, tzinfo=timezone.utc)) == date(2026, 11, 24)


def test_without_a_calendar_the_venue_always_trades():
    engine = gated_engine(SettableClock(et(2026, 11, 21, 10, 0)), calendar=None)
    assert len(fills(engine.submit("c1", "AAPL", "buy", D(100), D("227.50")))) == 1


def test_resting_day_order_fills_later_the_same_trading_day_but_not_across_it():
    market = reference_venue()
    clock = SettableClock(et(2026, 11, 20, 19, 0))  # Friday post-market
    engine = gated_engine(clock, market)
    assert [type(e) for e in engine.submit("r1", "AAPL", "buy", D(100), D("227.42"))] == [OrderAccepted]
    assert [type(e) for e in engine.submit("r2", "AAPL", "buy", D(100), D("227.40"))] == [OrderAccepted]
    clock.at = et(2026, 11, 20, 19, 30)  # the offer drops through r1's limit the same evening
    market.requote("AAPL", [ExchangeQuote(q.venue, q.bid - D("0.03"), q.bid_size, q.ask - D("0.03"), q.ask_size)
                            for q in REFERENCE_QUOTES])
    (fill,) = fills(engine.on_market_update())
    assert (fill.cl_ord_id, fill.last_px, fill.trade_date) == ("r1", D("227.41"), date(2026, 11, 20))
    clock.at = et(2026, 11, 22, 20, 0)  # Sunday's overnight session: r2's trading day is long over
    (canceled,) = engine.on_market_update()
    assert isinstance(canceled, OrderCanceled) and canceled.order.cl_ord_id == "r2"
    assert "end of its trading day" in canceled.reason


def test_ioc_whose_latency_runs_past_the_close_is_canceled_saying_why():
    clock = SettableClock(et(2026, 11, 20, 19, 59, 59))  # Friday, last second of post-market
    engine = gated_engine(clock)
    assert [type(e) for e in engine.accept("i1", "AAPL", "buy", D(100), D("227.50"), "ioc")] == [OrderAccepted]
    clock.at += timedelta(seconds=1)  # 20:00 Friday: no overnight session starts on Friday
    (canceled,) = engine.execute("i1")
    assert isinstance(canceled, OrderCanceled) and canceled.order.cum_qty == 0
    assert canceled.reason == "IOC remainder canceled (exchange closed at 2026-11-20 20:00 ET: weekend)"


def test_a_bad_order_in_an_open_session_still_gets_its_own_reason():
    engine = gated_engine(SettableClock(et(2026, 11, 23, 10, 0)))
    (rejected,) = engine.submit("c1", "AAPL", "buy", D("10.5"), D("227.50"))
    assert rejected.reject.code is RejectCode.INVALID_QUANTITY
    assert fix_fields(fix_codec.encode_event(rejected))[103] == "13"
