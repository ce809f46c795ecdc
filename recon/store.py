"""SQL adapter of the reconciliation: reads the holiday calendar and ledger holdings, and records
runs with their breaks. Our trades come from a TradeSource (recon/service.py), e.g. the broker's
venue fills (broker/recon_source.py).

Reads use Core selects of plain columns (no ORM objects): a day can hold 100,000 fills.
Decimal sums happen in Python (DecimalText is TEXT on SQLite, where SQL SUM() would use floats).
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, localcontext

from sqlalchemy import delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.money import EXACT_CONTEXT
from ledger.models import LedgerAccount
from ledger.views import EXTERNAL_OWNER
from marketcal.models import InstrumentRow, MarketHolidayRow
from recon.models import CustodyPosition, ReconBreak, ReconRun
from recon.reconciliation import Break, BreakKind, CustodyHolding, HolidayCalendar

FULL_CLOSE = "full"


@dataclass(frozen=True)
class RunRecord:
    """What a reconciliation run is recorded with (its breaks are passed separately)."""

    trade_date: date
    settlement_date: date
    statement_file: str
    statement_sha256: str
    statement_rows: int
    positions_file: str | None
    positions_sha256: str | None
    price_tolerance: Decimal
    started_at: datetime
    matched: int
    breaks: int


def load_holiday_calendar(session: Session) -> HolidayCalendar:
    rows = session.execute(select(MarketHolidayRow.day, MarketHolidayRow.kind)).all()
    return HolidayCalendar(
        full_closures=frozenset(day for day, kind in rows if kind == FULL_CLOSE),
        covered_years=frozenset(day.year for day, _kind in rows),
    )


def load_stock_symbols(session: Session) -> set[str]:
    return set(session.scalars(select(InstrumentRow.symbol)))


def load_ledger_shares(session: Session, symbols: Collection[str]) -> dict[str, Decimal]:
    """Shares of each symbol our users hold: available + locked over every owner but `external`."""
    statement = select(LedgerAccount.asset, LedgerAccount.available, LedgerAccount.locked).where(
        LedgerAccount.owner != EXTERNAL_OWNER, LedgerAccount.asset.in_(sorted(symbols)))
    totals: dict[str, Decimal] = {}
    with localcontext(EXACT_CONTEXT):
        for asset, available, locked in session.execute(statement):
            totals[asset] = totals.get(asset, Decimal(0)) + available + locked
    return totals


def save_run(session: Session, record: RunRecord, breaks: Sequence[Break],
             holdings: Iterable[CustodyHolding]) -> int:
    """Record a run; a run of the same (trade date, statement) is replaced in place. Returns its id.

    The caller commits. Two concurrent runs of one statement serialise on the run row.
    """
    assert record.breaks == len(breaks), "the run's break count must match the breaks recorded"
    run_id = _lock_run(session, record)
    session.execute(delete(ReconBreak).where(ReconBreak.run_id == run_id))
    session.execute(delete(CustodyPosition).where(CustodyPosition.run_id == run_id))
    if breaks:
        session.execute(insert(ReconBreak), [
            {"run_id": run_id, "kind": str(found.kind), "trade_id": found.trade_id, "symbol": found.symbol,
             "ours": found.ours, "theirs": found.theirs}
            for found in breaks
        ])
    positions = [
        {"run_id": run_id, "as_of": holding.as_of, "account": holding.account, "symbol": holding.symbol,
         "cusip": holding.cusip or None, "quantity": holding.quantity}
        for holding in holdings
    ]
    if positions:
        session.execute(insert(CustodyPosition), positions)
    session.flush()
    return run_id


def _run_values(record: RunRecord) -> dict[str, object]:
    return {
        "trade_date": record.trade_date,
        "settlement_date": record.settlement_date,
        "statement_file": record.statement_file,
        "statement_sha256": record.statement_sha256,
        "statement_rows": record.statement_rows,
        "positions_file": record.positions_file,
        "positions_sha256": record.positions_sha256,
        "price_tolerance": record.price_tolerance,
        "started_at": record.started_at,
        "matched": record.matched,
        "breaks": record.breaks,
    }


def _lock_run(session: Session, record: RunRecord) -> int:
    """Insert the run row if missing (a concurrent inserter wins quietly), lock it, update it."""
    values = _run_values(record)
    dialect_name = session.get_bind().dialect.name
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    session.execute(insert(ReconRun).values(**values).on_conflict_do_nothing(
        index_elements=["trade_date", "statement_sha256"]))
    statement = (
        select(ReconRun)
        .where(ReconRun.trade_date == record.trade_date, ReconRun.statement_sha256 == record.statement_sha256)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    run = session.scalars(statement).one()
    for name, value in values.items():
        setattr(run, name, value)
    session.flush()
    return run.id


def stored_breaks(session: Session, run_id: int) -> list[Break]:
    """The breaks recorded for a run, in report order."""
    rows = session.execute(select(ReconBreak.kind, ReconBreak.trade_id, ReconBreak.symbol, ReconBreak.ours,
                                  ReconBreak.theirs).where(ReconBreak.run_id == run_id))
    breaks = [Break(BreakKind(kind), trade_id, symbol, ours, theirs) for kind, trade_id, symbol, ours, theirs in rows]
    return sorted(breaks, key=Break.sort_key)
