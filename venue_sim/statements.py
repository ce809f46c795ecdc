"""The venue's T+1 settlement statement and custody position report, as CSV files.

Both formats are fixed by the contract shared with the reconciliation (issues 4 and 5):

    trade_id,trade_date,settlement_date,account,symbol,cusip,side,quantity,price,net_amount,cl_ord_id,venue_order_id
    as_of,account,symbol,cusip,quantity

Rows are built by pure functions; the write_* functions are the file-system edge. A file is written
to a temporary name and renamed, so a reader never sees half a statement.
"""
from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from pathlib import Path

import structlog

from core.types import Side
from marketcal.sessions import TradingCalendar
from venue_sim.errors import NaiveTimestamp
from venue_sim.events import VenueFill
from venue_sim.market import plain
from venue_sim.venue_calendar import next_business_day

log = structlog.get_logger(__name__)

STATEMENT_COLUMNS = ("trade_id", "trade_date", "settlement_date", "account", "symbol", "cusip", "side",
                     "quantity", "price", "net_amount", "cl_ord_id", "venue_order_id")
POSITION_COLUMNS = ("as_of", "account", "symbol", "cusip", "quantity")
CENT = Decimal("0.01")
# Wide enough for any quantity x price product to be exact before the single rounding to the cent.
_WIDE_PRECISION = 80


def net_amount(quantity: Decimal, price: Decimal) -> Decimal:
    """quantity x price rounded once to the cent, half-even; positive whatever the side."""
    with localcontext() as context:
        context.prec = _WIDE_PRECISION
        amount = (quantity * price).quantize(CENT, rounding=ROUND_HALF_EVEN)
    assert amount >= 0, f"negative net amount {amount}"
    return amount


def statement_file_name(account: str, trade_date: date) -> str:
    return f"statement-{account}-{trade_date.isoformat()}.csv"


def statement_rows(fills: Iterable[VenueFill], trade_date: date, account: str, cusips: Mapping[str, str],
                   calendar: TradingCalendar) -> list[tuple[str, ...]]:
    """One row per execution of `account` dated `trade_date`, ordered by trade id."""
    settlement_date = next_business_day(trade_date, calendar).isoformat()
    chosen = sorted((f for f in fills if f.account == account and f.trade_date == trade_date),
                    key=lambda fill: fill.exec_id)
    rows: list[tuple[str, ...]] = []
    for fill in chosen:
        assert fill.side in (Side.BUY, Side.SELL), f"fill {fill.exec_id} has side {fill.side}"
        rows.append((fill.exec_id, trade_date.isoformat(), settlement_date, account, fill.symbol,
                     cusips.get(fill.symbol) or "", str(fill.side), plain(fill.last_qty), plain(fill.last_px),
                     plain(net_amount(fill.last_qty, fill.last_px)), fill.cl_ord_id, fill.order_id))
    trade_ids = [row[0] for row in rows]
    assert len(set(trade_ids)) == len(trade_ids), "a trade id appears twice in the statement"
    return rows


def position_rows(positions: Mapping[tuple[str, str], Decimal], as_of: datetime,
                  cusips: Mapping[str, str]) -> list[tuple[str, ...]]:
    """One row per (account, symbol), ordered by account then symbol; as_of in UTC ISO 8601."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise NaiveTimestamp(f"position report as_of {as_of.isoformat()} must be timezone-aware")
    stamp = as_of.astimezone(timezone.utc).isoformat()
    return [(stamp, account, symbol, cusips.get(symbol) or "", plain(quantity))
            for (account, symbol), quantity in sorted(positions.items())]


def write_statement(fills: Iterable[VenueFill], trade_date: date, account: str, path: Path,
                    cusips: Mapping[str, str], calendar: TradingCalendar) -> Path:
    """Write the T+1 settlement statement of `account` for `trade_date` to `path`; returns the path."""
    if trade_date.year not in calendar.covered_years():
        # Settlement dates would skip weekends only: say so rather than mis-settle across a holiday.
        log.warning("statement_calendar_not_covering_trade_year", trade_date=trade_date.isoformat(),
                    covered=sorted(calendar.covered_years()))
    rows = statement_rows(fills, trade_date, account, cusips, calendar)
    _write_csv(Path(path), STATEMENT_COLUMNS, rows)
    log.info("venue_statement_written", account=account, trade_date=trade_date.isoformat(), rows=len(rows),
             path=str(path))
    return Path(path)


def write_positions(positions: Mapping[tuple[str, str], Decimal], as_of: datetime, path: Path,
                    cusips: Mapping[str, str]) -> Path:
    """Write the custody position report (shares held per account and symbol) to `path`."""
    rows = position_rows(positions, as_of, cusips)
    _write_csv(Path(path), POSITION_COLUMNS, rows)
    log.info("venue_positions_written", rows=len(rows), path=str(path))
    return Path(path)


def _write_csv(path: Path, header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(partial, path)
