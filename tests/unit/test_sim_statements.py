"""The venue's T+1 settlement statement and custody position report (broker_sim.statements, custody)."""
from __future__ import annotations

import csv
import random
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from marketcal.holidays import exchange_holidays
from marketcal.sessions import TradingCalendar
from tests.unit.test_sim_sessions import CALENDAR_2026, SettableClock, et
from venue_sim.custody import FillJournal
from venue_sim.events import OrderFilled, VenueFill
from venue_sim.market import ExchangeQuote, Market, SymbolMarket
from venue_sim.matching import MatchingEngine
from venue_sim.statements import STATEMENT_COLUMNS, net_amount, statement_file_name, write_positions, write_statement
from venue_sim.venue_calendar import next_business_day

D = Decimal
CUSIPS = {"AAPL": "037833100", "MSFT": "594918104"}
HEADER = ",".join(STATEMENT_COLUMNS)


def venue_fill(exec_id: str, side: str, quantity: str, price: str, trade_date: date, account: str = "BROKER",
               symbol: str = "AAPL", cl_ord_id: str = "rfq-1-001", order_id: str = "V-O1") -> VenueFill:
    executed_at = datetime.combine(trade_date, datetime.min.time(), tzinfo=timezone.utc).replace(hour=15)
    return VenueFill(exec_id=exec_id, account=account, cl_ord_id=cl_ord_id, order_id=order_id, symbol=symbol,
                     side=side, last_px=D(price), last_qty=D(quantity), cum_qty=D(quantity), leaves_qty=D(0),
                     avg_px=D(price), nbbo_bid=D(price) - D("0.01"), nbbo_offer=D(price) + D("0.01"),
                     executed_at=executed_at, trade_date=trade_date)


@pytest.mark.parametrize(("trade_date", "settles"), [
    (date(2026, 11, 20), date(2026, 11, 23)),  # Friday -> Monday
    (date(2026, 11, 23), date(2026, 11, 24)),
    (date(2026, 11, 25), date(2026, 11, 27)),  # Thanksgiving (26th) is a full close
    (date(2026, 11, 27), date(2026, 11, 30)),  # early-close Friday -> Monday
    (date(2026, 11, 26), date(2026, 11, 27)),  # the day after a holiday is an (early-close) business day
    (date(2026, 12, 24), date(2026, 12, 28)),  # Christmas Friday, then the weekend
])
def test_settlement_date_is_the_next_nyse_business_day(trade_date, settles):
    assert next_business_day(trade_date, CALENDAR_2026) == settles


def test_settlement_dates_with_the_exchange_calendar_holidays_of_2026():
    holidays = exchange_holidays("XNYS", [2026])
    calendar = TradingCalendar({holiday.day: holiday for holiday in holidays})
    assert calendar.holidays[date(2026, 11, 26)].is_full_close
    assert not calendar.holidays[date(2026, 11, 27)].is_full_close  # early close: still settles
    assert next_business_day(date(2026, 11, 25), calendar) == date(2026, 11, 27)
    assert next_business_day(date(2026, 11, 27), calendar) == date(2026, 11, 30)
    assert next_business_day(date(2026, 7, 2), calendar) == date(2026, 7, 6)  # 3 July observed, then weekend


@pytest.mark.parametrize(("quantity", "price", "expected"), [
    ("100", "227.44", "22744.00"),
    ("1", "0.125", "0.12"),  # half-even: ties go to the even cent
    ("1", "0.135", "0.14"),
    ("3", "0.005", "0.02"),  # 0.015 -> 0.02
    ("12345", "227.435", "2807685.08"),  # 2807685.075, tie to the even cent
    ("100", "227.4371", "22743.71"),
    ("123456789", "987.654", "121932591483.01"),  # 121932591483.006
])
def test_net_amount_is_quantity_times_price_rounded_half_even_to_the_cent(quantity, price, expected):
    amount = net_amount(D(quantity), D(price))
    assert str(amount) == expected


def test_statement_rows_for_one_account_and_trade_date_in_trade_id_order(tmp_path):
    trade_date = date(2026, 11, 25)
    fills = [
        venue_fill("V-X000000003", "sell", "50", "415.205", trade_date, symbol="MSFT", cl_ord_id="rfq-2-001",
                   order_id="V-O2"),
        venue_fill("V-X000000001", "buy", "100", "227.435", trade_date),
        venue_fill("V-X000000002", "buy", "7", "12.5", trade_date, symbol="ZZZZ", cl_ord_id="rfq-3-001",
                   order_id="V-O3"),
        venue_fill("V-X000000004", "buy", "100", "227.44", trade_date, account="OTHER"),
        venue_fill("V-X000000005", "buy", "100", "227.44", date(2026, 11, 24)),
    ]
    path = write_statement(fills, trade_date, "BROKER", tmp_path / statement_file_name("BROKER", trade_date),
                           CUSIPS, CALENDAR_2026)
    assert path.name == "statement-BROKER-2026-11-25.csv"
    assert path.read_bytes().decode("utf-8").splitlines() == [
        HEADER,
        "V-X000000001,2026-11-25,2026-11-27,BROKER,AAPL,037833100,buy,100,227.435,22743.50,rfq-1-001,V-O1",
        "V-X000000002,2026-11-25,2026-11-27,BROKER,ZZZZ,,buy,7,12.5,87.50,rfq-3-001,V-O3",
        "V-X000000003,2026-11-25,2026-11-27,BROKER,MSFT,594918104,sell,50,415.205,20760.25,rfq-2-001,V-O2",
    ]


def test_statement_writes_quantities_without_exponent_and_an_empty_day_as_a_header(tmp_path):
    fills = [venue_fill("V-X1", "buy", "1E+2", "227.43", date(2026, 11, 27))]
    rows = list(csv.reader(write_statement(fills, date(2026, 11, 27), "BROKER", tmp_path / "s.csv", CUSIPS,
                                           CALENDAR_2026).open(encoding="utf-8")))
    assert rows[1][2] == "2026-11-30" and rows[1][7:10] == ["100", "227.43", "22743.00"]
    empty = write_statement(fills, date(2026, 11, 30), "BROKER", tmp_path / "empty.csv", CUSIPS, CALENDAR_2026)
    assert empty.read_text(encoding="utf-8") == HEADER + "\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.csv", "s.csv"]  # no partial files left


def test_statement_carries_an_improved_fill_price_exactly(tmp_path):
    quotes = [ExchangeQuote("IEX", D("227.43"), D(500), D("227.44"), D(500))]
    market = Market.from_symbol_markets([SymbolMarket.with_quotes("AAPL", quotes, random.Random(1))])
    clock = SettableClock(et(2026, 11, 23, 10, 0))
    engine = MatchingEngine(market, clock, random.Random(4), D(1), id_prefix="T", calendar=CALENDAR_2026)
    prices = []
    for number in range(4):
        events = engine.submit(f"c{number}", "AAPL", "buy", D(3), D("227.44"), "ioc", owner="BROKER")
        (fill,) = [e.fill for e in events if isinstance(e, OrderFilled)]
        assert D("227.43") <= fill.last_px < D("227.44")  # probability 1: always improved
        prices.append(fill.last_px)
    assert any(price % D("0.01") != 0 for price in prices), "improvement should produce sub-penny prices"
    path = write_statement(engine.fills(), date(2026, 11, 23), "BROKER", tmp_path / "s.csv", CUSIPS, CALENDAR_2026)
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    assert [D(row["price"]) for row in rows] == prices
    assert [row["price"] for row in rows] == [format(price, "f") for price in prices]
    assert [row["net_amount"] for row in rows] == [str(net_amount(D(3), price)) for price in prices]
    assert [row["trade_id"] for row in rows] == [fill.exec_id for fill in engine.fills()]


def test_positions_are_opening_shares_plus_buys_minus_sells(tmp_path):
    journal = FillJournal({"BROKER": {"AAPL": D(1000), "NVDA": D(50)}})
    day = date(2026, 11, 23)
    journal.record(venue_fill("X1", "buy", "300", "227.44", day))
    journal.record(venue_fill("X2", "sell", "100", "227.43", day))
    journal.record(venue_fill("X3", "buy", "100", "415.20", day, symbol="MSFT"))
    journal.record(venue_fill("X4", "sell", "20", "415.20", day, symbol="MSFT", account="OTHER"))
    assert journal.positions() == {("BROKER", "AAPL"): D(1200), ("BROKER", "NVDA"): D(50),
                                   ("BROKER", "MSFT"): D(100), ("OTHER", "MSFT"): D(-20)}
    as_of = datetime(2026, 11, 23, 21, 0, 5, tzinfo=timezone.utc)
    path = write_positions(journal.positions(), et(2026, 11, 23, 16, 0, 5), tmp_path / "positions.csv", CUSIPS)
    assert path.read_text(encoding="utf-8").splitlines() == [
        "as_of,account,symbol,cusip,quantity",
        f"{as_of.isoformat()},BROKER,AAPL,037833100,1200",
        f"{as_of.isoformat()},BROKER,MSFT,594918104,100",
        f"{as_of.isoformat()},BROKER,NVDA,,50",
        f"{as_of.isoformat()},OTHER,MSFT,594918104,-20",
    ]
    assert as_of.isoformat() == "2026-11-23T21:00:05+00:00"


def test_the_journal_forgets_old_fills_but_not_the_positions_they_made():
    journal = FillJournal(retention_days=10)
    journal.record(venue_fill("X1", "buy", "100", "10", date(2026, 11, 2)))
    journal.record(venue_fill("X2", "buy", "100", "10", date(2026, 11, 12)))
    assert [f.exec_id for f in journal.fills()] == ["X1", "X2"]
    journal.record(venue_fill("X3", "sell", "30", "10", date(2026, 11, 13)))
    assert [f.exec_id for f in journal.fills()] == ["X2", "X3"]
    assert journal.positions() == {("BROKER", "AAPL"): D(170)}
    assert [f.exec_id for f in journal.fills(trade_date=date(2026, 11, 13), account="BROKER")] == ["X3"]


def test_a_fill_recorded_twice_is_refused():
    journal = FillJournal()
    journal.record(venue_fill("X1", "buy", "100", "10", date(2026, 11, 2)))
    with pytest.raises(AssertionError):
        journal.record(venue_fill("X1", "buy", "100", "10", date(2026, 11, 2)))
