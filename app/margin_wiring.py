"""Stocks as collateral in the stack: marks from the venue's NBBO (last close outside sessions),
the margin terms of the gateway's policy, the margin monitor on the engine's tick, the house
funds from [margin], and the hourly proof-of-reserves job."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import structlog
from sqlalchemy.orm import Session, sessionmaker

from app.settings import Settings
from core.clock import Clock
from core.money import CASH_ASSET
from gateway.domain.policy import MarginTerms
from gateway.engine import RfqEngine
from gateway.margin_ledger import covers_factory
from gateway.margin_monitor import MarginMonitor, MonitorSettings
from ledger.equity import LIQUIDITY_FUND_OWNER, fund_lending_pool
from ledger.ledger import Ledger
from ledger.lending import lend_usdc
from ledger.marks import MarkBook
from marketcal.sessions import TradingRules
from ops.reserves import publish

log = structlog.get_logger(__name__)

MARK_REFRESH_S = 0.25  # how often the marks re-read the venue's prices (on the tick or when asked)
PriceLookup = Callable[[str], tuple[Decimal, Decimal] | None]


class StackMarks:
    """Marks of every configured instrument: the venue's NBBO polled on demand, the configured
    reference price as the last close until a later close is known."""

    def __init__(self, settings: Settings, clock: Clock, trading: TradingRules, reference: PriceLookup) -> None:
        self._clock = clock
        self._reference = reference
        self._symbols = [instrument.symbol for instrument in settings.instruments]
        self.book = MarkBook(timedelta(seconds=settings.margin.mark_staleness_s),
                             lambda symbol, at: trading.calendar.session_at(at) is not None)
        self._refreshed_at_s: float | None = None
        opened = clock.now()
        for instrument in settings.instruments:
            self.book.update_close(instrument.symbol, instrument.reference_price, opened)

    def refresh_if_due(self) -> None:
        """Read the prices again when the last read is MARK_REFRESH_S old: they are read on every
        acceptance and fill (3 SELECTs on the venue's store each time otherwise)."""
        if self._refreshed_at_s is None or time.monotonic() - self._refreshed_at_s >= MARK_REFRESH_S:
            self.refresh()

    def refresh(self) -> None:
        self._refreshed_at_s = time.monotonic()  # pacing of price reads, not business time
        now = self._clock.now()
        for symbol in self._symbols:
            try:
                nbbo = self._reference(symbol)
            except Exception:  # noqa: BLE001 - a feed failure leaves the last values (they go stale)
                log.warning("mark_feed_failed", symbol=symbol, exc_info=True)
                continue
            if nbbo is not None:
                self.book.update_nbbo(symbol, nbbo[0], nbbo[1], now)

    def marks(self) -> dict[str, Decimal]:
        self.refresh_if_due()
        return self.book.marks(set(self._symbols), self._clock.now())


class MarginWiring:
    def __init__(self, settings: Settings, clock: Clock, trading: TradingRules, reference: PriceLookup) -> None:
        self.settings = settings
        self.parameters = settings.margin.parameters()
        self.marks = StackMarks(settings, clock, trading, reference)
        self.terms = MarginTerms(self.parameters, self.marks.marks, covers_factory(self.marks.marks, self.parameters))
        self.monitor: MarginMonitor | None = None

    def attach(self, engine: RfqEngine) -> MarginMonitor:
        margin = self.settings.margin
        self.monitor = MarginMonitor(engine, self.marks.marks, self.parameters, MonitorSettings(
            interval=timedelta(seconds=margin.monitor_interval_s), buffer=margin.liquidation_buffer,
            price_band=margin.liquidation_price_band, retry_after=timedelta(seconds=margin.liquidation_retry_s),
            escalate_after=margin.escalate_after_attempts))
        self.marks.book.subscribe(self.monitor.mark_changed)
        return self.monitor

    def tick(self) -> None:
        """On the engine's tick: re-read the prices now and then (a changed mark makes the monitor
        check at once), then let the monitor run if a check is due."""
        if self.monitor is None:
            return
        self.marks.refresh_if_due()
        self.monitor.tick()


def seed_margin_funds(ledger: Ledger, settings: Settings) -> None:
    """The lending pool, the liquidity fund and configured lends, once each (idempotent keys)."""
    margin = settings.margin
    if margin.lending_pool_usdc > 0:
        fund_lending_pool(ledger, margin.lending_pool_usdc, "funding:lending_pool")
    if margin.liquidity_fund_usdc > 0:
        ledger.deposit(LIQUIDITY_FUND_OWNER, CASH_ASSET, margin.liquidity_fund_usdc, "funding:liquidity_fund")
    for account, amount in sorted(margin.lends.items()):
        lend_usdc(ledger, account, amount, f"funding:lend:{account}")


def publish_reserves(sessions: sessionmaker[Session], settings: Settings, now: datetime, trigger: str) -> int:
    with sessions() as session:
        run_id, results = publish(session, settings.reserves.usdc_reserve_account,
                                  settings.reserves.custody_account, now, trigger)
        session.commit()
    uncovered = [result.asset for result in results if not result.covered]
    log.info("reserves_published", run=run_id, assets=len(results), uncovered=uncovered)
    return run_id
