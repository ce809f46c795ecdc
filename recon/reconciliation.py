"""T+1 reconciliation of our venue fills against the venue's settlement statement (pure, no I/O).

Trades are matched by trade id (the venue's ExecID, our venue_fills.exec_id). One trade can carry
several breaks (e.g. a wrong quantity and a wrong price); a trade "matches" when it is on both
sides with no break at all. The reserves check compares the shares our users hold in the ledger
with what the venue's custodian says it holds for us.

settlement/recon_files.py parses the venue's files, settlement/recon_store.py reads and writes
the database; this module only compares.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, localcontext
from enum import StrEnum

from core.money import EXACT_CONTEXT, canonical_decimal_text

DEFAULT_PRICE_TOLERANCE = Decimal("0.0001")  # per share
TRADING_WEEKDAYS = frozenset({0, 1, 2, 3, 4})
# No exchange closes for more than a few days in a row; a longer search means a broken calendar.
MAX_DAYS_TO_NEXT_BUSINESS_DAY = 10


class BreakKind(StrEnum):
    MISSING_OURS = "missing_ours"  # on the statement, not in our venue_fills
    MISSING_THEIRS = "missing_theirs"  # in our venue_fills, not on the statement
    QUANTITY_MISMATCH = "quantity_mismatch"
    PRICE_MISMATCH = "price_mismatch"
    SETTLEMENT_DATE_MISMATCH = "settlement_date_mismatch"
    SIDE_MISMATCH = "side_mismatch"
    SYMBOL_MISMATCH = "symbol_mismatch"
    RESERVES_MISMATCH = "reserves_mismatch"
    # A venue trade of ours that the gateway never settled (no acknowledged fill report): shares or
    # USDC moved at the venue while the user's ledger did not.
    UNSETTLED_VENUE_FILL = "unsettled_venue_fill"


BREAK_ORDER = {kind: index for index, kind in enumerate(BreakKind)}


class CalendarNotCovered(Exception):
    """The holiday table has no rows for a year the settlement date depends on."""


@dataclass(frozen=True)
class OurTrade:
    """One of our venue_fills rows, as far as the statement can confirm it."""

    trade_id: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal


@dataclass(frozen=True)
class UnsettledFill:
    """One of our venue fills whose RFQ the gateway did not acknowledge as settled."""

    trade: OurTrade
    rfq_ref: str | None  # None: the fill belongs to no RFQ record at all
    state: str | None  # the RFQ's state on our side (e.g. Unsettled, Reported)


@dataclass(frozen=True)
class StatementRow:
    trade_id: str
    trade_date: date
    settlement_date: date
    account: str
    symbol: str
    cusip: str
    side: str
    quantity: Decimal
    price: Decimal
    net_amount: Decimal
    cl_ord_id: str
    venue_order_id: str


@dataclass(frozen=True)
class CustodyHolding:
    """A row of the custodian's position report: shares held for one account."""

    as_of: datetime
    account: str
    symbol: str
    cusip: str
    quantity: Decimal


def custody_totals(holdings: Iterable[CustodyHolding]) -> dict[str, Decimal]:
    """Shares held at custody per symbol, summed over accounts."""
    totals: dict[str, Decimal] = {}
    with localcontext(EXACT_CONTEXT):
        for holding in holdings:
            totals[holding.symbol] = totals.get(holding.symbol, Decimal(0)) + holding.quantity
    return totals


@dataclass(frozen=True)
class Break:
    kind: BreakKind
    trade_id: str | None
    symbol: str | None
    ours: str | None
    theirs: str | None

    def sort_key(self) -> tuple[int, str, str]:
        return BREAK_ORDER[self.kind], self.trade_id or "", self.symbol or ""


@dataclass(frozen=True)
class TradeComparison:
    matched: int
    breaks: tuple[Break, ...]


@dataclass(frozen=True)
class HolidayCalendar:
    """Full-close days of the exchange and the years the holiday table covers."""

    full_closures: frozenset[date]
    covered_years: frozenset[int]

    def is_business_day(self, day: date) -> bool:
        return day.weekday() in TRADING_WEEKDAYS and day not in self.full_closures

    def next_business_day(self, day: date) -> date:
        """The first business day after `day` (early closes are business days)."""
        candidate = day
        for _ in range(MAX_DAYS_TO_NEXT_BUSINESS_DAY):
            candidate += timedelta(days=1)
            if self.is_business_day(candidate):
                self._require_covered(day, candidate)
                return candidate
        raise AssertionError(f"no business day within {MAX_DAYS_TO_NEXT_BUSINESS_DAY} days after {day}")

    def _require_covered(self, start: date, end: date) -> None:
        missing = sorted({start.year, end.year} - self.covered_years)
        if missing:
            years = ", ".join(str(year) for year in missing)
            raise CalendarNotCovered(f"market_holidays has no rows for {years}: seed the reference data "
                                     f"(calendar.holiday_years) before reconciling {start.isoformat()}")


def plain(value: Decimal) -> str:
    return canonical_decimal_text(value)


def describe_trade(side: str, quantity: Decimal, symbol: str, price: Decimal) -> str:
    return f"{side} {plain(quantity)} {symbol} @ {plain(price)}"


def compare_trades(
    ours: Mapping[str, OurTrade],
    statement: Iterable[StatementRow],
    expected_settlement_date: date,
    price_tolerance: Decimal,
    found_on_other_dates: Mapping[str, date] | None = None,
) -> TradeComparison:
    """Breaks between our trades of the day and the statement rows, sorted by kind then trade id.

    `found_on_other_dates` names statement trade ids we recorded under another trade date, so a
    missing_ours break can say where the trade went instead of only that it is missing.
    """
    if price_tolerance < 0:
        raise ValueError(f"price tolerance must not be negative, got {plain(price_tolerance)}")
    elsewhere = found_on_other_dates or {}
    breaks: list[Break] = []
    seen: set[str] = set()
    matched = 0
    for row in statement:
        assert row.trade_id not in seen, f"duplicate trade id {row.trade_id} reached the comparison"
        seen.add(row.trade_id)
        row_breaks = _settlement_date_breaks(row, expected_settlement_date)
        ours_trade = ours.get(row.trade_id)
        if ours_trade is None:
            other_date = elsewhere.get(row.trade_id)
            note = None if other_date is None else f"recorded on trade date {other_date.isoformat()}"
            row_breaks.append(Break(BreakKind.MISSING_OURS, row.trade_id, row.symbol, note,
                                    describe_trade(row.side, row.quantity, row.symbol, row.price)))
        else:
            row_breaks.extend(_field_breaks(ours_trade, row, price_tolerance))
            if not row_breaks:
                matched += 1
        breaks.extend(row_breaks)
    for trade_id in sorted(set(ours) - seen):
        trade = ours[trade_id]
        breaks.append(Break(BreakKind.MISSING_THEIRS, trade_id, trade.symbol,
                            describe_trade(trade.side, trade.quantity, trade.symbol, trade.price), None))
    return TradeComparison(matched=matched, breaks=tuple(sorted(breaks, key=Break.sort_key)))


def _settlement_date_breaks(row: StatementRow, expected: date) -> list[Break]:
    if row.settlement_date == expected:
        return []
    return [Break(BreakKind.SETTLEMENT_DATE_MISMATCH, row.trade_id, row.symbol, expected.isoformat(),
                  row.settlement_date.isoformat())]


def _field_breaks(ours: OurTrade, theirs: StatementRow, price_tolerance: Decimal) -> list[Break]:
    found: list[Break] = []
    if ours.symbol != theirs.symbol:
        found.append(Break(BreakKind.SYMBOL_MISMATCH, ours.trade_id, ours.symbol, ours.symbol, theirs.symbol))
    if ours.side != theirs.side:
        found.append(Break(BreakKind.SIDE_MISMATCH, ours.trade_id, ours.symbol, ours.side, theirs.side))
    if ours.quantity != theirs.quantity:
        found.append(Break(BreakKind.QUANTITY_MISMATCH, ours.trade_id, ours.symbol, plain(ours.quantity),
                           plain(theirs.quantity)))
    if abs(ours.price - theirs.price) > price_tolerance:
        found.append(Break(BreakKind.PRICE_MISMATCH, ours.trade_id, ours.symbol, plain(ours.price),
                           plain(theirs.price)))
    return found


def compare_reserves(
    ledger_shares: Mapping[str, Decimal], custody_shares: Mapping[str, Decimal], stock_symbols: Collection[str]
) -> tuple[Break, ...]:
    """A reserves_mismatch per stock whose ledger total differs from the custodian's total.

    Every symbol in `stock_symbols` or in the custody report is checked; a missing side counts as zero.
    """
    breaks = []
    for symbol in sorted(set(stock_symbols) | set(custody_shares)):
        ours = ledger_shares.get(symbol, Decimal(0))
        theirs = custody_shares.get(symbol, Decimal(0))
        if ours != theirs:
            breaks.append(Break(BreakKind.RESERVES_MISMATCH, None, symbol, plain(ours), plain(theirs)))
    return tuple(breaks)


def compare_settlements(unsettled: Iterable[UnsettledFill]) -> tuple[Break, ...]:
    """An unsettled_venue_fill per venue trade the gateway has no settlement for, by trade id."""
    breaks = []
    for fill in unsettled:
        trade = fill.trade
        where = "no RFQ record" if fill.rfq_ref is None else f"RFQ {fill.rfq_ref} is {fill.state}"
        breaks.append(Break(BreakKind.UNSETTLED_VENUE_FILL, trade.trade_id, trade.symbol,
                            describe_trade(trade.side, trade.quantity, trade.symbol, trade.price),
                            f"not settled by the gateway: {where}"))
    return tuple(sorted(breaks, key=Break.sort_key))
