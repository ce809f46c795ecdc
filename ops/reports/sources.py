"""Where executions come from (SQL adapter of the execution-quality report).

- venue_fills: the broker connector's own executions at the venue, measured on the broker's side;
  reported as solver "{broker comp id}@venue", scope VENUE, each with the venue's NBBO at execution.
- fills (joined to quotes and rfqs): the gateway's requester fills, measured on the requester's
  side, reported under the winning quote's solver session, scope REQUESTER.

Rows are streamed in batches so a long range does not load every fill at once.
"""
from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import VenueFillRow
from gateway.models import FillRow, QuoteRow, RfqRow
from ops.reports.execution_quality import REPORT_TZ, Execution, Scope

STREAM_BATCH_ROWS = 5000


def venue_solver_name(broker_comp_id: str) -> str:
    return f"{broker_comp_id}@venue"


def venue_executions(session: Session, date_from: date, date_to: date, broker_comp_id: str) -> Iterator[Execution]:
    """The broker's venue fills with a New York trade date in [date_from, date_to]."""
    solver = venue_solver_name(broker_comp_id)
    statement = (
        select(VenueFillRow.symbol, VenueFillRow.side, VenueFillRow.quantity, VenueFillRow.price, VenueFillRow.nbbo_bid,
               VenueFillRow.nbbo_offer, VenueFillRow.executed_at, VenueFillRow.exec_id)
        .where(VenueFillRow.trade_date >= date_from, VenueFillRow.trade_date <= date_to)
        .order_by(VenueFillRow.executed_at, VenueFillRow.exec_id)
        .execution_options(yield_per=STREAM_BATCH_ROWS)
    )
    for symbol, side, quantity, price, bid, offer, executed_at, exec_id in session.execute(statement):
        yield Execution(solver, symbol, side, quantity, price, bid, offer, executed_at, Scope.VENUE, f"venue {exec_id}")


def gateway_executions(session: Session, date_from: date, date_to: date) -> Iterator[Execution]:
    """Requester fills made in [date_from, date_to] (New York dates), by the winning quote's solver."""
    starts_at, ends_before = new_york_day_bounds(date_from, date_to)
    statement = (
        select(QuoteRow.solver_session, RfqRow.symbol, RfqRow.side, FillRow.last_quantity, FillRow.last_price, FillRow.nbbo_bid,
               FillRow.nbbo_offer, FillRow.created_at, FillRow.rfq_id, FillRow.exec_id)
        .join(QuoteRow, QuoteRow.id == FillRow.quote_id)
        .join(RfqRow, RfqRow.id == FillRow.rfq_id)
        .where(FillRow.created_at >= starts_at, FillRow.created_at < ends_before)
        .order_by(FillRow.created_at, FillRow.id)
        .execution_options(yield_per=STREAM_BATCH_ROWS)
    )
    for solver, symbol, side, quantity, price, bid, offer, created_at, rfq_id, exec_id in session.execute(statement):
        yield Execution(solver, symbol, side, quantity, price, bid, offer, created_at, Scope.REQUESTER,
                        f"rfq {rfq_id} {exec_id}")


def new_york_day_bounds(date_from: date, date_to: date) -> tuple[datetime, datetime]:
    """[start of date_from, start of the day after date_to) in New York, as aware datetimes."""
    if date_from > date_to:
        raise ValueError(f"empty range: --from {date_from} is after --to {date_to}")
    starts_at = datetime.combine(date_from, time(0), tzinfo=REPORT_TZ)
    ends_before = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=REPORT_TZ)
    return starts_at, ends_before
