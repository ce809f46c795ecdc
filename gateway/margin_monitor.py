"""The margin monitor: on the engine's thread and clock, every `interval` and on every mark change,
re-check each borrowing account; below MMF, open a CollateralConversion RFQ through the same
intake handler as any RFQ (requester: the account holder's session), follow it, retry it on a
schedule and escalate it (gateway/domain/liquidation.py has the decisions).

Each attempt is decided and recorded in one transaction with its liquidation row, so a crash
never leaves an RFQ without its liquidation or the reverse.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from core.types import RfqId, SessionName
from gateway.domain.book import Changeset
from gateway.domain.errors import DomainRejection
from gateway.domain.liquidation import (
    ACTIVE,
    CollateralConversionOpened,
    Liquidation,
    LiquidationEscalated,
    LiquidationFilled,
    LiquidationStatus,
    after_attempt,
    conversion_request,
    needs_attempt,
)
from gateway.domain.rfq import Rfq
from gateway.handlers import intake as handlers_intake
from gateway.liquidation_models import LiquidationRow
from gateway.ports import GatewayUnitOfWork
from ledger.ledger import Ledger
from ledger.lending import accounts_with_borrow, snapshot_of
from ledger.margin import AccountMargin, LiquidationOrder, MarginParameters, assess, liquidation_order

if TYPE_CHECKING:
    from gateway.engine import RfqEngine

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class MonitorSettings:
    interval: timedelta
    buffer: Decimal
    price_band: Decimal
    retry_after: timedelta
    escalate_after: int


def _session_of(uow: GatewayUnitOfWork) -> Session:
    ledger = uow.ledger
    if not isinstance(ledger, Ledger):
        raise TypeError("the margin monitor needs the SQL ledger")
    return ledger.session


def _from_row(row: LiquidationRow) -> Liquidation:
    order = LiquidationOrder(row.account, row.symbol, row.quantity, row.mark, row.limit_price,
                             row.quantity * row.mark, row.shortfall)
    return Liquidation(row.id, row.account, SessionName(row.session), order, row.attempts,
                       LiquidationStatus(row.status), row.opened_at, row.rfq_id, row.client_req_id,
                       row.next_attempt_at, row.text)


def active_liquidations(session: Session) -> dict[str, LiquidationRow]:
    rows = session.scalars(select(LiquidationRow).where(LiquidationRow.status.in_([s.value for s in ACTIVE]))
                           .order_by(LiquidationRow.id)).all()
    return {row.account: row for row in rows}


class MarginMonitor:
    def __init__(self, engine: RfqEngine, marks: Callable[[], Mapping[str, Decimal]], parameters: MarginParameters,
                 settings: MonitorSettings) -> None:
        self._engine = engine
        self._marks = marks
        self._parameters = parameters
        self._settings = settings
        self._next_check: datetime | None = None
        self._marks_changed = False
        # Whether the last check found anything to watch (a borrower or a live liquidation): when it
        # did not, a mark change waits for the next periodic check (at most one period away), which
        # keeps a busy engine from re-reading the ledger on every tick of a moving market.
        self._watching = True

    def mark_changed(self, symbol: str = "") -> None:
        """A listener for mark changes: the next tick re-checks every account at once."""
        self._marks_changed = True

    def tick(self) -> None:
        """Called on the engine's thread after its timers; cheap unless a check is due."""
        now = self._engine.now()
        due = self._next_check is None or now >= self._next_check
        if not due and not (self._marks_changed and self._watching):
            return
        self._marks_changed = False
        self._next_check = now + self._settings.interval
        try:
            self.check(now)
        except Exception:  # noqa: BLE001 - the monitor must never stop the engine
            log.exception("margin_monitor_failed")

    def check(self, now: datetime) -> list[AccountMargin]:
        """Follow live attempts, then open or retry one for every account below MMF. Returns the margins seen."""
        self._follow_attempts(now)
        marks = dict(self._marks())
        with self._engine.uow() as uow:
            ledger = uow.ledger
            assert isinstance(ledger, Ledger), "the margin monitor runs on the SQL ledger"
            margins = [assess(snapshot_of(ledger, account), marks, self._parameters)
                       for account in accounts_with_borrow(ledger)]
            active = {account: _from_row(row) for account, row in active_liquidations(ledger.session).items()}
        self._watching = bool(margins or active)
        for margin in margins:
            found = active.get(margin.account)
            if found is not None and not margin.below_maintenance and found.status is not LiquidationStatus.OPEN:
                self._resolve(found, now)
            elif needs_attempt(margin, found, now):
                self._attempt(margin.account, found, marks, now)
        return margins

    # -- attempts ---------------------------------------------------------------------------
    def _attempt(self, account: str, previous: Liquidation | None, marks: Mapping[str, Decimal],
                 now: datetime) -> None:
        session = self._holder_session(account)
        if session is None:
            log.error("liquidation_without_session", account=account)
            return
        engine, settings = self._engine, self._settings

        def decide(uow: GatewayUnitOfWork) -> Changeset:
            ledger = uow.ledger
            assert isinstance(ledger, Ledger)
            margin = assess(snapshot_of(ledger, account), marks, self._parameters)
            order = liquidation_order(margin, settings.buffer, settings.price_band)
            if order is None:
                return Changeset()
            row = self._row_for(_session_of(uow), previous, account, session, order, now)
            command = conversion_request(order, session, row.id, row.attempts)
            changes = handlers_intake.request_quote(command, engine.policy, engine.book, ledger, now)
            row.rfq_id, row.client_req_id, row.status = changes.rfqs[0].rfq_id, command.client_req_id, "open"
            changes.events.append(CollateralConversionOpened(
                rfq_id=changes.rfqs[0].rfq_id, occurred_at=now, liquidation_id=row.id, account=account,
                symbol=order.symbol, quantity=order.quantity, mark=order.mark, limit_price=order.limit_price,
                shortfall=order.shortfall, attempt=row.attempts))
            log.info("collateral_conversion_opened", account=account, symbol=order.symbol,
                        quantity=str(order.quantity), limit=str(order.limit_price), attempt=row.attempts)
            return changes

        try:
            engine.commit(decide)
        except DomainRejection as refusal:  # e.g. the market is closed: this attempt counts, it is retried
            log.warning("collateral_conversion_refused", account=account, reason=refusal.text)
            self._record_refused(account, session, previous, marks, now, refusal.text)

    def _row_for(self, session: Session, previous: Liquidation | None, account: str, holder: SessionName,
                 order: LiquidationOrder, now: datetime) -> LiquidationRow:
        row = session.get(LiquidationRow, previous.liquidation_id) if previous is not None else None
        if row is None:
            row = LiquidationRow(account=account, session=holder, attempts=0, status="open", opened_at=now)
            session.add(row)
        row.symbol, row.quantity, row.mark, row.limit_price = order.symbol, order.quantity, order.mark, \
            order.limit_price
        row.shortfall, row.attempts, row.updated_at, row.next_attempt_at = order.shortfall, row.attempts + 1, now, None
        session.flush()
        return row

    def _record_refused(self, account: str, holder: SessionName, previous: Liquidation | None,
                        marks: Mapping[str, Decimal], now: datetime, text: str) -> None:
        def decide(uow: GatewayUnitOfWork) -> Changeset:
            ledger = uow.ledger
            assert isinstance(ledger, Ledger)
            order = liquidation_order(assess(snapshot_of(ledger, account), marks, self._parameters),
                                      self._settings.buffer, self._settings.price_band)
            if order is None:
                return Changeset()
            row = self._row_for(_session_of(uow), previous, account, holder, order, now)
            return self._settle_attempt(row, None, now, f"refused: {text}")

        self._engine.commit(decide)

    # -- following ---------------------------------------------------------------------------
    def _follow_attempts(self, now: datetime) -> None:
        with self._engine.uow() as uow:
            open_rows = [row.id for row in active_liquidations(_session_of(uow)).values() if row.status == "open"]
        for liquidation_id in open_rows:
            self._engine.commit(partial(self._follow, liquidation_id=liquidation_id, now=now))

    def _follow(self, uow: GatewayUnitOfWork, liquidation_id: int, now: datetime) -> Changeset:
        row = _session_of(uow).get(LiquidationRow, liquidation_id)
        if row is None or row.status != "open":
            return Changeset()
        rfq = self._rfq_of(uow, row)
        if rfq is not None and not rfq.is_terminal:
            return Changeset()
        return self._settle_attempt(row, rfq, now, None)

    def _settle_attempt(self, row: LiquidationRow, rfq: Rfq | None, now: datetime, text: str | None) -> Changeset:
        before = _from_row(row)
        after = after_attempt(before, rfq.state if rfq is not None else None, now, self._settings.retry_after,
                              self._settings.escalate_after)
        row.status, row.next_attempt_at, row.updated_at = after.status.value, after.next_attempt_at, now
        row.text = (text or after.text or "")[:256]
        changes = Changeset()
        rfq_id = RfqId(row.rfq_id) if row.rfq_id is not None else None
        if after.status is LiquidationStatus.FILLED:
            changes.events.append(LiquidationFilled(rfq_id=rfq_id, occurred_at=now, liquidation_id=row.id,
                                                    account=row.account, attempts=row.attempts))
        elif after.status is LiquidationStatus.ESCALATED and before.status is not LiquidationStatus.ESCALATED:
            changes.events.append(LiquidationEscalated(rfq_id=rfq_id, occurred_at=now, liquidation_id=row.id,
                                                       account=row.account, attempts=row.attempts, text=row.text))
            log.error("liquidation_escalated", account=row.account, attempts=row.attempts, text=row.text)
        return changes

    def _resolve(self, liquidation: Liquidation, now: datetime) -> None:
        def decide(uow: GatewayUnitOfWork) -> Changeset:
            row = _session_of(uow).get(LiquidationRow, liquidation.liquidation_id)
            if row is not None and row.status != "open":
                row.status, row.next_attempt_at, row.updated_at = "resolved", None, now
                row.text = "back above MMF without a fill"
            return Changeset()

        self._engine.commit(decide)

    def _rfq_of(self, uow: GatewayUnitOfWork, row: LiquidationRow) -> Rfq | None:
        rfq = self._engine.book.rfq(RfqId(row.rfq_id)) if row.rfq_id is not None else None
        if rfq is None and row.client_req_id is not None:
            rfq = uow.store.find_rfq_by_client_id(SessionName(row.session), row.client_req_id)
        return rfq

    def _holder_session(self, account: str) -> SessionName | None:
        for party in self._engine.policy.counterparties.values():
            if party.account == account and party.role.can_request():
                return party.session
        return None
