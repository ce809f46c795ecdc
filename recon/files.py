"""Strict parsers for the venue's settlement statement and custody position report (CSV, UTF-8).

Both formats are fixed by the shared contract; anything else (an extra column, a number with an
exponent, a date in another format, a duplicate trade id, a net amount that is not quantity x price
rounded to the cent) is refused with the line it was found on. A half-understood statement must
not produce breaks: the operator would chase phantom differences.
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_EVEN, Context, Decimal

from core.money import canonical_decimal_text, storable_decimal_problem
from recon.reconciliation import CustodyHolding, StatementRow

STATEMENT_COLUMNS = (
    "trade_id", "trade_date", "settlement_date", "account", "symbol", "cusip", "side", "quantity", "price",
    "net_amount", "cl_ord_id", "venue_order_id",
)
POSITION_COLUMNS = ("as_of", "account", "symbol", "cusip", "quantity")
SIDES = frozenset({"buy", "sell"})
MAX_FILE_ROWS = 2_000_000
ID_LENGTH = 64
SYMBOL_LENGTH = 32
CENT = Decimal("0.01")
_PLAIN_DECIMAL = re.compile(r"\d+(\.\d+)?")
_SIGNED_PLAIN_DECIMAL = re.compile(r"-?\d+(\.\d+)?")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CUSIP = re.compile(r"[0-9A-Z]{9}")
# Rounding net amounts to the cent is deliberate; the products themselves are exact at this precision.
_ROUNDING_CONTEXT = Context(prec=80, rounding=ROUND_HALF_EVEN)


class MalformedFile(ValueError):
    """A statement or position file that does not follow the contract; nothing may be recorded from it."""


def _rows(content: bytes, source: str, columns: tuple[str, ...]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of every data row, after checking the encoding and the header."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise MalformedFile(f"{source}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            raise MalformedFile(f"{source}: empty file, expected the header {','.join(columns)}")
        if tuple(header) != columns:
            raise MalformedFile(f"{source} line 1: header must be exactly {','.join(columns)}, got {','.join(header)}")
        for count, fields in enumerate(reader, start=1):
            if count > MAX_FILE_ROWS:
                raise MalformedFile(f"{source}: more than {MAX_FILE_ROWS} rows")
            if len(fields) != len(columns):
                raise MalformedFile(f"{source} line {reader.line_num}: {len(fields)} fields, expected {len(columns)}")
            yield reader.line_num, fields
    except csv.Error as error:
        raise MalformedFile(f"{source} line {reader.line_num}: {error}") from None


class _Line:
    """Field readers that name the file, line and column in their errors."""

    def __init__(self, source: str, line: int) -> None:
        self.where = f"{source} line {line}"

    def fail(self, message: str) -> MalformedFile:
        return MalformedFile(f"{self.where}: {message}")

    def text(self, column: str, value: str, max_length: int, required: bool = True) -> str:
        if value != value.strip():
            raise self.fail(f"{column} {value!r} has surrounding whitespace")
        if required and not value:
            raise self.fail(f"{column} is empty")
        if len(value) > max_length:
            raise self.fail(f"{column} is longer than {max_length} characters")
        return value

    def day(self, column: str, value: str) -> date:
        if not _ISO_DATE.fullmatch(value):
            raise self.fail(f"{column} {value!r} is not a YYYY-MM-DD date")
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(f"{column} {value!r} is not a valid date") from None

    def amount(self, column: str, value: str, positive: bool, signed: bool = False) -> Decimal:
        if not (_SIGNED_PLAIN_DECIMAL if signed else _PLAIN_DECIMAL).fullmatch(value):
            kind = "decimal" if signed else "non-negative decimal"
            raise self.fail(f"{column} {value!r} is not a plain {kind} (digits, optional fraction, no exponent)")
        number = Decimal(value)
        problem = storable_decimal_problem(number)
        if problem is not None:
            raise self.fail(f"{column} {problem}")
        if positive and number == 0:
            raise self.fail(f"{column} must be positive")
        return number

    def side(self, value: str) -> str:
        if value not in SIDES:
            raise self.fail(f"side {value!r} is not buy or sell")
        return value

    def cusip(self, value: str) -> str:
        if value and not _CUSIP.fullmatch(value):
            raise self.fail(f"cusip {value!r} is not 9 upper-case letters or digits")
        return value


def parse_statement(content: bytes, source: str, trade_date: date) -> list[StatementRow]:
    """Every row of a settlement statement for `trade_date`; raises MalformedFile on any deviation."""
    rows: list[StatementRow] = []
    first_line_of: dict[str, int] = {}
    for line_number, fields in _rows(content, source, STATEMENT_COLUMNS):
        row = _statement_row(_Line(source, line_number), fields, trade_date)
        if row.trade_id in first_line_of:
            raise MalformedFile(f"{source} line {line_number}: trade_id {row.trade_id} repeats line "
                                f"{first_line_of[row.trade_id]}")
        first_line_of[row.trade_id] = line_number
        rows.append(row)
    return rows


def _statement_row(line: _Line, fields: list[str], trade_date: date) -> StatementRow:
    (trade_id, trade_day, settlement_day, account, symbol, cusip, side, quantity_text, price_text,
     net_amount_text, cl_ord_id, venue_order_id) = fields
    row = StatementRow(
        trade_id=line.text("trade_id", trade_id, ID_LENGTH),
        trade_date=line.day("trade_date", trade_day),
        settlement_date=line.day("settlement_date", settlement_day),
        account=line.text("account", account, ID_LENGTH),
        symbol=line.text("symbol", symbol, SYMBOL_LENGTH),
        cusip=line.cusip(cusip),
        side=line.side(side),
        quantity=line.amount("quantity", quantity_text, positive=True),
        price=line.amount("price", price_text, positive=True),
        net_amount=line.amount("net_amount", net_amount_text, positive=False),
        cl_ord_id=line.text("cl_ord_id", cl_ord_id, ID_LENGTH, required=False),
        venue_order_id=line.text("venue_order_id", venue_order_id, ID_LENGTH, required=False),
    )
    if row.trade_date != trade_date:
        raise line.fail(f"trade_date {row.trade_date.isoformat()} is not the reconciled date {trade_date.isoformat()}")
    if row.settlement_date <= row.trade_date:
        raise line.fail(f"settlement_date {row.settlement_date.isoformat()} is not after the trade date")
    expected_net = net_amount(row.quantity, row.price)
    if row.net_amount != expected_net:
        raise line.fail(f"net_amount {net_amount_text} is not quantity x price rounded to the cent "
                        f"({expected_net})")
    return row


def parse_positions(content: bytes, source: str) -> list[CustodyHolding]:
    """Every row of a custody position report; raises MalformedFile on any deviation."""
    holdings: list[CustodyHolding] = []
    first_line_of: dict[tuple[str, str], int] = {}
    for line_number, fields in _rows(content, source, POSITION_COLUMNS):
        line = _Line(source, line_number)
        as_of_text, account, symbol, cusip, quantity_text = fields
        holding = CustodyHolding(
            as_of=_utc_timestamp(line, as_of_text),
            account=line.text("account", account, ID_LENGTH),
            symbol=line.text("symbol", symbol, SYMBOL_LENGTH),
            cusip=line.cusip(cusip),
            # The venue shows a sale beyond the holding as a negative position: a break, not a bad file.
            quantity=line.amount("quantity", quantity_text, positive=False, signed=True),
        )
        key = (holding.account, holding.symbol)
        if key in first_line_of:
            raise line.fail(f"{holding.account}/{holding.symbol} repeats line {first_line_of[key]}")
        first_line_of[key] = line_number
        holdings.append(holding)
    return holdings


def _utc_timestamp(line: _Line, value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise line.fail(f"as_of {value!r} is not an ISO 8601 timestamp") from None
    if parsed.tzinfo is None or parsed.utcoffset() != timedelta(0):
        raise line.fail(f"as_of {value!r} is not in UTC (end it with Z or +00:00)")
    return parsed


def statement_csv(rows: Iterable[StatementRow]) -> str:
    """A statement in the contract's format (the inverse of parse_statement), rows ordered by trade id."""
    lines = [",".join(STATEMENT_COLUMNS)]
    for row in sorted(rows, key=lambda row: row.trade_id):
        lines.append(",".join([
            row.trade_id, row.trade_date.isoformat(), row.settlement_date.isoformat(), row.account, row.symbol,
            row.cusip, row.side, canonical_decimal_text(row.quantity), canonical_decimal_text(row.price),
            f"{row.net_amount:f}", row.cl_ord_id, row.venue_order_id,
        ]))
    return "\n".join(lines) + "\n"


def positions_csv(holdings: Iterable[CustodyHolding]) -> str:
    """A custody position report in the contract's format (the inverse of parse_positions)."""
    lines = [",".join(POSITION_COLUMNS)]
    for holding in holdings:
        as_of = holding.as_of.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
        lines.append(",".join([as_of, holding.account, holding.symbol, holding.cusip,
                               canonical_decimal_text(holding.quantity)]))
    return "\n".join(lines) + "\n"


def net_amount(quantity: Decimal, price: Decimal) -> Decimal:
    """quantity x price rounded to the cent, half-even, as the statement carries it."""
    return (quantity * price).quantize(CENT, context=_ROUNDING_CONTEXT)
