"""What the operator console shows, read from the settlement database (and the session source).

One `Snapshot` is a plain value: the console renders it into HTML fragments and pushes the ones
that changed. Reading it takes a few bounded queries; the console reads it off the event loop.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import BrokerParameterRow
from gateway.access.models import OperatorCommandRow
from gateway.access.operator import SolverStatusStore
from gateway.domain.rfq import TERMINAL_STATES
from gateway.models import FillRow, QuoteRow, RfqRow
from marketcal.sessions import MarketSession
from ops.reports.execution_quality import REPORT_TZ, ExecutionQualityReport, ReportBuilder
from ops.reports.sources import gateway_executions
from ops.sessions_view import SessionRow
from recon.models import ReconBreak, ReconRun

MAX_RFQS = 50
MAX_ROWS = 20
TERMINAL = tuple(state.value for state in TERMINAL_STATES)


@dataclass(frozen=True)
class QuoteView:
    quote_id: str
    solver: str
    bid: Decimal | None
    offer: Decimal | None
    status: str
    received_at: datetime


@dataclass(frozen=True)
class RfqView:
    rfq_id: int
    requester: str
    client_req_id: str
    symbol: str
    side: str
    quantity: Decimal
    state: str
    created_at: datetime
    submission_deadline: datetime
    acceptance_deadline: datetime
    quotes: tuple[QuoteView, ...]


@dataclass(frozen=True)
class FillView:
    at: datetime
    rfq_id: int
    solver: str
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    nbbo: str
    settlement: str


@dataclass(frozen=True)
class BreakView:
    trade_date: date
    kind: str
    trade_id: str | None
    symbol: str | None
    ours: str | None
    theirs: str | None


@dataclass(frozen=True)
class SolverView:
    comp_id: str
    enabled: bool
    reason: str | None


@dataclass(frozen=True)
class MarginView:
    market_session: str
    margin_bps: Decimal
    aggression_bps: Decimal
    source: str


@dataclass(frozen=True)
class CommandView:
    id: int
    command: str
    comp_id: str
    requested_by: str
    requested_at: datetime
    result: str | None


@dataclass(frozen=True)
class Snapshot:
    taken_at: datetime
    sessions: tuple[SessionRow, ...]
    rfqs: tuple[RfqView, ...]  # in flight, newest first
    recent: tuple[RfqView, ...]  # ended, newest first
    fills: tuple[FillView, ...]
    breaks: tuple[BreakView, ...]
    solvers: tuple[SolverView, ...]
    margins: tuple[MarginView, ...]
    commands: tuple[CommandView, ...]
    quality: ExecutionQualityReport | None = field(default=None, compare=False)
    serial: int = 0  # which read of the shared snapshot this is (a page tells its event stream)


@dataclass(frozen=True)
class ConsoleScope:
    """Configuration the snapshot needs: which sessions are solvers, the broker's default margins."""

    solver_ids: tuple[str, ...]
    default_margin_bps: Decimal
    default_aggression_bps: Decimal


def read_snapshot(session: Session, sessions: list[SessionRow], scope: ConsoleScope, now: datetime,
                  with_quality: bool = True) -> Snapshot:
    return Snapshot(
        taken_at=now, sessions=tuple(sessions),
        rfqs=_rfqs(session, in_flight=True), recent=_rfqs(session, in_flight=False),
        fills=_fills(session), breaks=_breaks(session), solvers=_solvers(session, scope),
        margins=_margins(session, scope), commands=_commands(session),
        quality=execution_quality(session, now.astimezone(REPORT_TZ).date()) if with_quality else None,
    )


def _rfqs(session: Session, in_flight: bool) -> tuple[RfqView, ...]:
    condition = RfqRow.state.not_in(TERMINAL) if in_flight else RfqRow.state.in_(TERMINAL)
    limit = MAX_RFQS if in_flight else MAX_ROWS
    rows = session.scalars(select(RfqRow).where(condition).order_by(RfqRow.id.desc()).limit(limit)).all()
    quotes: dict[int, list[QuoteView]] = {}
    if rows:
        statement = (select(QuoteRow).where(QuoteRow.rfq_id.in_([row.id for row in rows]))
                     .order_by(QuoteRow.sequence))
        for quote in session.scalars(statement):
            quotes.setdefault(quote.rfq_id, []).append(QuoteView(
                quote.id, quote.solver_session, quote.bid_price, quote.offer_price, quote.status, quote.received_at))
    return tuple(RfqView(row.id, row.requester_session, row.client_req_id, row.symbol, row.side, row.quantity,
                         row.state, row.created_at, row.submission_deadline, row.acceptance_deadline,
                         tuple(quotes.get(row.id, ()))) for row in rows)


def _fills(session: Session) -> tuple[FillView, ...]:
    statement = (select(FillRow, QuoteRow.solver_session, RfqRow)
                 .join(QuoteRow, QuoteRow.id == FillRow.quote_id).join(RfqRow, RfqRow.id == FillRow.rfq_id)
                 .order_by(FillRow.id.desc()).limit(MAX_ROWS))
    views = []
    for fill, solver, rfq in session.execute(statement):
        nbbo = f"{fill.nbbo_bid} / {fill.nbbo_offer}" if fill.nbbo_bid is not None else "-"
        settled = "settled" if rfq.state == "Filled" else rfq.state
        views.append(FillView(fill.created_at, fill.rfq_id, solver, rfq.symbol, rfq.side, fill.last_quantity,
                              fill.last_price, nbbo, settled))
    return tuple(views)


def _breaks(session: Session) -> tuple[BreakView, ...]:
    statement = (select(ReconBreak, ReconRun.trade_date).join(ReconRun, ReconRun.id == ReconBreak.run_id)
                 .order_by(ReconBreak.id.desc()).limit(MAX_ROWS))
    return tuple(BreakView(trade_date, row.kind, row.trade_id, row.symbol, row.ours, row.theirs)
                 for row, trade_date in session.execute(statement))


def _solvers(session: Session, scope: ConsoleScope) -> tuple[SolverView, ...]:
    statuses = SolverStatusStore(session).all()
    views = []
    for comp_id in scope.solver_ids:
        status = statuses.get(comp_id)
        views.append(SolverView(comp_id, status is None or status.enabled, status.reason if status else None))
    return tuple(views)


def _margins(session: Session, scope: ConsoleScope) -> tuple[MarginView, ...]:
    rows = {row.market_session: row for row in session.scalars(select(BrokerParameterRow))}
    views = []
    for market_session in MarketSession:
        row = rows.get(market_session.value)
        if row is None:
            views.append(MarginView(market_session.value, scope.default_margin_bps, scope.default_aggression_bps,
                                    "config"))
        else:
            views.append(MarginView(market_session.value, row.margin_bps, row.aggression_bps,
                                    f"set by {row.updated_by}"))
    return tuple(views)


def _commands(session: Session) -> tuple[CommandView, ...]:
    statement = select(OperatorCommandRow).order_by(OperatorCommandRow.id.desc()).limit(MAX_ROWS)
    return tuple(CommandView(row.id, row.command, row.comp_id, row.requested_by, row.requested_at, row.result)
                 for row in session.scalars(statement))


def execution_quality(session: Session, day: date) -> ExecutionQualityReport:
    """Today's (New York) requester fills by the winning solver, measured against the NBBO at the fill."""
    builder = ReportBuilder()
    builder.add_all(gateway_executions(session, day, day))
    return builder.build(day, day)
