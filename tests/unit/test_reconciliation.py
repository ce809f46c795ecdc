"""T+1 reconciliation: break detection, the settlement-date calendar and the strict file parsers."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest

from marketcal.holidays import exchange_holidays
from marketcal.sessions import HolidayKind
from recon.files import MalformedFile, net_amount, parse_positions, parse_statement, positions_csv, statement_csv
from recon.models import BREAK_KINDS
from recon.reconciliation import (
    Break,
    BreakKind,
    CalendarNotCovered,
    CustodyHolding,
    HolidayCalendar,
    OurTrade,
    StatementRow,
    UnsettledFill,
    compare_reserves,
    compare_settlements,
    compare_trades,
    custody_totals,
)

TRADE_DATE = date(2026, 11, 20)  # Friday
SETTLES = date(2026, 11, 23)  # Monday
TOLERANCE = Decimal("0.0001")
AS_OF = datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc)


def _row(trade_id: str, symbol: str = "AAPL", side: str = "buy", quantity: str = "100", price: str = "227.43",
         settlement_date: date = SETTLES) -> StatementRow:
    quantity_value, price_value = Decimal(quantity), Decimal(price)
    return StatementRow(trade_id, TRADE_DATE, settlement_date, "BROKER", symbol, "037833100", side, quantity_value,
                        price_value, net_amount(quantity_value, price_value), f"rfq-{trade_id}-001", f"V{trade_id}")


def _ours(row: StatementRow) -> OurTrade:
    return OurTrade(row.trade_id, row.symbol, row.side, row.quantity, row.price)


def _roundtrip(rows: list[StatementRow]) -> list[StatementRow]:
    """Through the CSV format and the strict parser, as the CLI reads a statement."""
    return parse_statement(statement_csv(rows).encode(), "statement.csv", TRADE_DATE)


CLEAN_DAY = [_row("E1"), _row("E2", "MSFT", "sell", "5", "415.2"), _row("E3", "NVDA", "buy", "0.5", "131.2534")]


def test_break_kinds_agree_with_the_table_check_constraint() -> None:
    assert tuple(kind.value for kind in BreakKind) == BREAK_KINDS


def test_clean_day_has_no_breaks() -> None:
    ours = {row.trade_id: _ours(row) for row in CLEAN_DAY}
    comparison = compare_trades(ours, _roundtrip(CLEAN_DAY), SETTLES, TOLERANCE)
    assert comparison.breaks == ()
    assert comparison.matched == 3


def test_quantities_compare_as_numbers_not_text() -> None:
    ours = {"E1": OurTrade("E1", "AAPL", "buy", Decimal("100.000"), Decimal("227.4300"))}
    comparison = compare_trades(ours, _roundtrip([_row("E1")]), SETTLES, TOLERANCE)
    assert (comparison.matched, comparison.breaks) == (1, ())


def test_every_break_kind_is_found_in_a_faulty_statement() -> None:
    ours = {row.trade_id: _ours(row) for row in [_row("E1"), _row("E2"), _row("E3"), _row("E4"), _row("E5"),
                                                  _row("E6"), _row("E8")]}
    statement = _roundtrip([
        _row("E1"),  # clean
        _row("E2", quantity="90"),
        _row("E3", price="227.44"),
        _row("E4", settlement_date=date(2026, 11, 24)),
        _row("E5", side="sell"),
        _row("E6", symbol="MSFT"),
        _row("E7"),  # the venue has it, we do not
        # E8: we have it, the venue does not
    ])
    comparison = compare_trades(ours, statement, SETTLES, TOLERANCE)
    assert comparison.matched == 1
    assert list(comparison.breaks) == [
        Break(BreakKind.MISSING_OURS, "E7", "AAPL", None, "buy 100 AAPL @ 227.43"),
        Break(BreakKind.MISSING_THEIRS, "E8", "AAPL", "buy 100 AAPL @ 227.43", None),
        Break(BreakKind.QUANTITY_MISMATCH, "E2", "AAPL", "100", "90"),
        Break(BreakKind.PRICE_MISMATCH, "E3", "AAPL", "227.43", "227.44"),
        Break(BreakKind.SETTLEMENT_DATE_MISMATCH, "E4", "AAPL", "2026-11-23", "2026-11-24"),
        Break(BreakKind.SIDE_MISMATCH, "E5", "AAPL", "buy", "sell"),
        Break(BreakKind.SYMBOL_MISMATCH, "E6", "AAPL", "AAPL", "MSFT"),
    ]


def test_one_trade_can_carry_several_breaks() -> None:
    ours = {"E1": _ours(_row("E1"))}
    statement = _roundtrip([_row("E1", quantity="99", price="230", settlement_date=date(2026, 11, 24))])
    comparison = compare_trades(ours, statement, SETTLES, TOLERANCE)
    assert comparison.matched == 0
    assert [found.kind for found in comparison.breaks] == [
        BreakKind.QUANTITY_MISMATCH, BreakKind.PRICE_MISMATCH, BreakKind.SETTLEMENT_DATE_MISMATCH]


def test_missing_ours_says_when_we_recorded_the_trade_under_another_date() -> None:
    comparison = compare_trades({}, _roundtrip([_row("E9")]), SETTLES, TOLERANCE,
                                found_on_other_dates={"E9": date(2026, 11, 19)})
    assert comparison.breaks == (
        Break(BreakKind.MISSING_OURS, "E9", "AAPL", "recorded on trade date 2026-11-19", "buy 100 AAPL @ 227.43"),)


@pytest.mark.parametrize(("statement_price", "tolerance", "is_break"), [
    ("227.4301", "0.0001", False),  # exactly the tolerance: not a break
    ("227.4299", "0.0001", False),
    ("227.43010001", "0.0001", True),  # just above it
    ("227.42989999", "0.0001", True),
    ("227.4301", "0", True),  # a zero tolerance wants the exact price
    ("227.43", "0", False),
    ("227.44", "0.01", False),  # configurable: a cent
    ("227.4401", "0.01", True),
])
def test_price_tolerance_edge(statement_price: str, tolerance: str, is_break: bool) -> None:
    ours = {"E1": _ours(_row("E1"))}
    comparison = compare_trades(ours, _roundtrip([_row("E1", price=statement_price)]), SETTLES, Decimal(tolerance))
    assert [found.kind for found in comparison.breaks] == ([BreakKind.PRICE_MISMATCH] if is_break else [])


def test_negative_tolerance_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        compare_trades({}, [], SETTLES, Decimal("-0.0001"))


# ---- settlement date ----

@pytest.fixture(scope="module")
def nyse() -> HolidayCalendar:
    holidays = exchange_holidays("XNYS", [2026, 2027])
    return HolidayCalendar(frozenset(holiday.day for holiday in holidays if holiday.kind is HolidayKind.FULL),
                           frozenset({2026, 2027}))


@pytest.mark.parametrize(("trade_date", "settlement_date"), [
    (date(2026, 11, 19), date(2026, 11, 20)),  # Thursday -> Friday
    (date(2026, 11, 20), date(2026, 11, 23)),  # Friday -> Monday, over the weekend
    (date(2026, 11, 22), date(2026, 11, 23)),  # Sunday (overnight session) -> Monday
    (date(2026, 11, 25), date(2026, 11, 27)),  # over Thanksgiving; the 27th closes early but settles
    (date(2026, 12, 24), date(2026, 12, 28)),  # over Christmas and a weekend
    (date(2026, 12, 31), date(2027, 1, 4)),  # over New Year's Day (a Friday) and the weekend
])
def test_next_business_day(nyse: HolidayCalendar, trade_date: date, settlement_date: date) -> None:
    assert nyse.next_business_day(trade_date) == settlement_date


def test_next_business_day_refuses_years_the_holiday_table_does_not_cover() -> None:
    calendar = HolidayCalendar(frozenset({date(2026, 12, 25)}), frozenset({2026}))
    assert calendar.next_business_day(date(2026, 12, 30)) == date(2026, 12, 31)
    with pytest.raises(CalendarNotCovered, match="2027"):
        calendar.next_business_day(date(2026, 12, 31))  # 2027-01-01 may be a holiday: we cannot tell
    with pytest.raises(CalendarNotCovered, match="2028"):
        calendar.next_business_day(date(2028, 3, 1))


# ---- statement parser ----

HEADER = ("trade_id,trade_date,settlement_date,account,symbol,cusip,side,quantity,price,net_amount,cl_ord_id,"
          "venue_order_id")
GOOD_LINE = "E1,2026-11-20,2026-11-23,BROKER,AAPL,037833100,buy,100,227.43,22743.00,rfq-1-001,V1"


def test_parser_reads_the_contract_format_exactly() -> None:
    rows = parse_statement(f"\ufeff{HEADER}\r\n{GOOD_LINE}\r\n".encode(), "s.csv", TRADE_DATE)
    assert rows == [StatementRow("E1", TRADE_DATE, SETTLES, "BROKER", "AAPL", "037833100", "buy", Decimal(100),
                                 Decimal("227.43"), Decimal("22743.00"), "rfq-1-001", "V1")]
    assert parse_statement(f"{HEADER}\n".encode(), "s.csv", TRADE_DATE) == []


def test_net_amount_is_rounded_half_even_to_the_cent() -> None:
    assert net_amount(Decimal(1), Decimal("0.125")) == Decimal("0.12")
    assert net_amount(Decimal(1), Decimal("0.135")) == Decimal("0.14")
    line = "E1,2026-11-20,2026-11-23,BROKER,AAPL,,sell,3,0.125,0.38,,"
    assert parse_statement(f"{HEADER}\n{line}\n".encode(), "s.csv", TRADE_DATE)[0].net_amount == Decimal("0.38")


def _replace_field(index: int, value: str) -> str:
    fields = GOOD_LINE.split(",")
    fields[index] = value
    return ",".join(fields)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "empty file"),
    ("trade_id,trade_date\nE1,2026-11-20\n".encode(), "line 1: header must be exactly"),
    (f"{HEADER},extra\n{GOOD_LINE},x\n".encode(), "line 1: header"),
    (f"{HEADER}\n{GOOD_LINE},x\n".encode(), "line 2: 13 fields, expected 12"),
    (f"{HEADER}\n{GOOD_LINE}\n\n".encode(), "line 3: 0 fields"),
    (f"{HEADER}\n{_replace_field(8, '2.2743E+2')}\n".encode(), "price '2.2743E+2' is not a plain"),
    (f"{HEADER}\n{_replace_field(7, '-100')}\n".encode(), "quantity '-100' is not a plain"),
    (f"{HEADER}\n{_replace_field(7, '0')}\n".encode(), "quantity must be positive"),
    (f"{HEADER}\n{_replace_field(8, '227.4300000000001')}\n".encode(), "more than 12 fraction digits"),
    (f"{HEADER}\n{_replace_field(1, '20261120')}\n".encode(), "not a YYYY-MM-DD date"),
    (f"{HEADER}\n{_replace_field(2, '2026-02-30')}\n".encode(), "not a valid date"),
    (f"{HEADER}\n{_replace_field(1, '2026-11-19')}\n".encode(), "not the reconciled date 2026-11-20"),
    (f"{HEADER}\n{_replace_field(2, '2026-11-20')}\n".encode(), "is not after the trade date"),
    (f"{HEADER}\n{_replace_field(6, 'BUY')}\n".encode(), "side 'BUY' is not buy or sell"),
    (f"{HEADER}\n{_replace_field(9, '22743.01')}\n".encode(), "net_amount 22743.01 is not quantity x price"),
    (f"{HEADER}\n{_replace_field(0, ' E1')}\n".encode(), "surrounding whitespace"),
    (f"{HEADER}\n{_replace_field(0, '')}\n".encode(), "trade_id is empty"),
    (f"{HEADER}\n{_replace_field(5, '0378')}\n".encode(), "cusip '0378'"),
    (f"{HEADER}\n{GOOD_LINE}\n{GOOD_LINE}\n".encode(), "line 3: trade_id E1 repeats line 2"),
    (f"{HEADER}\n{GOOD_LINE}\n".encode("utf-16"), "not UTF-8"),
    (f'{HEADER}\n"E1,2026-11-20\n'.encode(), "unexpected end of data"),
])
def test_parser_refuses_malformed_statements(content: bytes, message: str) -> None:
    with pytest.raises(MalformedFile, match="s.csv") as raised:
        parse_statement(content, "s.csv", TRADE_DATE)
    assert message in str(raised.value)


# ---- reserves ----

POSITIONS_HEADER = "as_of,account,symbol,cusip,quantity"


def test_positions_roundtrip_and_totals_over_accounts() -> None:
    holdings = [CustodyHolding(AS_OF, "BROKER", "AAPL", "037833100", Decimal("400")),
                CustodyHolding(AS_OF, "BROKER-2", "AAPL", "037833100", Decimal("100.5")),
                CustodyHolding(AS_OF, "BROKER", "MSFT", "", Decimal("0")),
                CustodyHolding(AS_OF, "BROKER", "NVDA", "", Decimal("-20"))]  # sold beyond the holding
    parsed = parse_positions(positions_csv(holdings).encode(), "p.csv")
    assert parsed == holdings
    assert custody_totals(parsed) == {"AAPL": Decimal("500.5"), "MSFT": Decimal(0), "NVDA": Decimal(-20)}


@pytest.mark.parametrize(("line", "message"), [
    ("2026-11-21T01:00:00,BROKER,AAPL,,1", "not in UTC"),
    ("2026-11-21T01:00:00-05:00,BROKER,AAPL,,1", "not in UTC"),
    ("yesterday,BROKER,AAPL,,1", "not an ISO 8601 timestamp"),
    ("2026-11-21T01:00:00Z,BROKER,AAPL,,1E+3", "quantity '1E+3' is not a plain decimal"),
    ("2026-11-21T01:00:00Z,BROKER,AAPL,,+3", "quantity '+3' is not a plain decimal"),
    ("2026-11-21T01:00:00Z,BROKER,AAPL,,1\n2026-11-21T01:00:00Z,BROKER,AAPL,,2", "line 3: BROKER/AAPL repeats line 2"),
])
def test_positions_parser_refuses_malformed_reports(line: str, message: str) -> None:
    with pytest.raises(MalformedFile, match="p.csv") as raised:
        parse_positions(f"{POSITIONS_HEADER}\n{line}\n".encode(), "p.csv")
    assert message in str(raised.value)


def test_reserves_breaks_per_stock() -> None:
    ledger = {"AAPL": Decimal("10500"), "MSFT": Decimal("200"), "NVDA": Decimal("0.000")}
    custody = {"AAPL": Decimal("10500.0"), "MSFT": Decimal("150"), "TSLA": Decimal("5")}
    assert compare_reserves(ledger, custody, {"AAPL", "MSFT", "NVDA"}) == (
        Break(BreakKind.RESERVES_MISMATCH, None, "MSFT", "200", "150"),
        Break(BreakKind.RESERVES_MISMATCH, None, "TSLA", "0", "5"),
    )


def test_reserves_missing_at_custody_count_as_zero() -> None:
    assert compare_reserves({"AAPL": Decimal(3)}, {}, {"AAPL", "MSFT"}) == (
        Break(BreakKind.RESERVES_MISMATCH, None, "AAPL", "3", "0"),)


def test_statement_csv_orders_rows_by_trade_id() -> None:
    text = statement_csv([replace(_row("E2")), _row("E1")])
    assert [line.split(",")[0] for line in text.splitlines()] == ["trade_id", "E1", "E2"]


def test_a_venue_fill_the_gateway_never_settled_is_a_break_naming_the_rfq_and_its_state() -> None:
    trade = OurTrade("E9", "AAPL", "buy", Decimal("10"), Decimal("227.41"))
    orphan = OurTrade("E8", "MSFT", "sell", Decimal("5"), Decimal("415.2"))
    breaks = compare_settlements([UnsettledFill(trade, "rfq-42", "Unsettled"), UnsettledFill(orphan, None, None)])
    assert [(b.kind, b.trade_id) for b in breaks] == [(BreakKind.UNSETTLED_VENUE_FILL, "E8"),
                                                      (BreakKind.UNSETTLED_VENUE_FILL, "E9")]
    assert breaks[1].ours == "buy 10 AAPL @ 227.41"
    assert breaks[1].theirs == "not settled by the gateway: RFQ rfq-42 is Unsettled"
    assert breaks[0].theirs == "not settled by the gateway: no RFQ record"
    assert compare_settlements([]) == ()
