"""One T+1 reconciliation: parse the venue's files, compare with our records, record the run.

Files are parsed completely before the database is touched, so a malformed file writes nothing.
"""
from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import structlog
from sqlalchemy.orm import Session

from recon import store as recon_store
from recon.files import parse_positions, parse_statement
from recon.reconciliation import (
    Break,
    CustodyHolding,
    OurTrade,
    StatementRow,
    UnsettledFill,
    compare_reserves,
    compare_settlements,
    compare_trades,
    custody_totals,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class VenueFile:
    name: str  # as given by the operator; recorded with the run
    content: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True)
class PreparedReconciliation:
    """The venue's files, parsed and checked against the contract."""

    trade_date: date
    statement: VenueFile
    statement_rows: tuple[StatementRow, ...]
    positions: VenueFile | None
    holdings: tuple[CustodyHolding, ...] | None
    price_tolerance: Decimal


@dataclass(frozen=True)
class ReconOutcome:
    run_id: int
    trade_date: date
    settlement_date: date
    statement_sha256: str
    statement_rows: int
    ours: int  # our venue fills of the trade date
    matched: int
    breaks: tuple[Break, ...]
    reserves_checked: bool
    custody_as_of: datetime | None  # the latest as_of of the position report


def prepare(trade_date: date, statement: VenueFile, positions: VenueFile | None,
            price_tolerance: Decimal) -> PreparedReconciliation:
    """Parse both files; raises MalformedFile (a ValueError) on any deviation from the contract."""
    if not price_tolerance.is_finite() or price_tolerance < 0:
        raise ValueError(f"price tolerance must be a non-negative number, got {price_tolerance}")
    rows = tuple(parse_statement(statement.content, statement.name, trade_date))
    holdings = None if positions is None else tuple(parse_positions(positions.content, positions.name))
    return PreparedReconciliation(trade_date, statement, rows, positions, holdings, price_tolerance)


class TradeSource(Protocol):
    """Where "our" side of the reconciliation comes from (e.g. broker.recon_source.BrokerVenueTrades)."""

    def our_trades(self, session: Session, trade_date: date) -> dict[str, OurTrade]: ...

    def trade_dates(self, session: Session, trade_ids: Collection[str]) -> dict[str, date]: ...

    def unsettled_fills(self, session: Session, trade_date: date) -> list[UnsettledFill]: ...


def reconcile(session: Session, prepared: PreparedReconciliation, now: datetime,
              trades: TradeSource) -> ReconOutcome:
    """Compare and record the run in the caller's transaction (the caller commits).

    Raises CalendarNotCovered when the holiday table cannot tell the settlement date.
    """
    settlement_date = recon_store.load_holiday_calendar(session).next_business_day(prepared.trade_date)
    ours = trades.our_trades(session, prepared.trade_date)
    unknown_ids = [row.trade_id for row in prepared.statement_rows if row.trade_id not in ours]
    elsewhere = trades.trade_dates(session, unknown_ids) if unknown_ids else {}
    comparison = compare_trades(ours, prepared.statement_rows, settlement_date, prepared.price_tolerance, elsewhere)
    breaks = comparison.breaks + compare_settlements(trades.unsettled_fills(session, prepared.trade_date))
    if prepared.holdings is not None:
        custody = custody_totals(prepared.holdings)
        stocks = recon_store.load_stock_symbols(session)
        ledger = recon_store.load_ledger_shares(session, stocks | set(custody))
        breaks = breaks + compare_reserves(ledger, custody, stocks)
    record = recon_store.RunRecord(
        trade_date=prepared.trade_date,
        settlement_date=settlement_date,
        statement_file=prepared.statement.name,
        statement_sha256=prepared.statement.sha256,
        statement_rows=len(prepared.statement_rows),
        positions_file=None if prepared.positions is None else prepared.positions.name,
        positions_sha256=None if prepared.positions is None else prepared.positions.sha256,
        price_tolerance=prepared.price_tolerance,
        started_at=now,
        matched=comparison.matched,
        breaks=len(breaks),
    )
    run_id = recon_store.save_run(session, record, breaks, prepared.holdings or ())
    log.info("reconciliation_recorded", run_id=run_id, trade_date=prepared.trade_date.isoformat(),
             statement_rows=record.statement_rows, ours=len(ours), matched=record.matched, breaks=record.breaks)
    custody_as_of = max((holding.as_of for holding in prepared.holdings or ()), default=None)
    return ReconOutcome(
        run_id=run_id, trade_date=prepared.trade_date, settlement_date=settlement_date,
        statement_sha256=record.statement_sha256, statement_rows=record.statement_rows, ours=len(ours),
        matched=record.matched, breaks=breaks, reserves_checked=prepared.holdings is not None,
        custody_as_of=custody_as_of,
    )
