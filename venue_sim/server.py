"""Runs the simulated venue: a QuickFIX acceptor, its worker, a market ticker thread and, when
MQTT is configured, the market-data publisher; writes the venue's statements and position reports."""
from __future__ import annotations

import random
import threading
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Callable

import structlog

from core.clock import SystemClock
from marketcal.sessions import TradingCalendar
from transport.fix.engine import FixEngine
from transport.fix.settings_builder import EngineSpec, SessionSpec
from venue_sim.custody import FillJournal
from venue_sim.errors import LimitExceeded, VenueConfigError
from venue_sim.fix_app import DEFAULT_QUEUE_SIZE, VenueApplication
from venue_sim.market import Market, Nbbo
from venue_sim.market_data import DEFAULT_TOPIC_PREFIX, MarketDataPublisher
from venue_sim.matching import MatchingEngine
from venue_sim.statements import statement_file_name, write_positions, write_statement
from venue_sim.store import VenueStore
from venue_sim.venue_calendar import trade_date_of

log = structlog.get_logger(__name__)

NbboListener = Callable[[Nbbo], None]
MAX_LISTENERS = 64
TICKER_JOIN_TIMEOUT_S = 5.0
DEFAULT_MD_PUBLISH_RATE_HZ = 4.0


def start_id_prefix(wall_clock: Callable[[], datetime] = SystemClock().now) -> str:
    """Venue ids carry the real start time (never the business clock, which tests pin to one moment),
    to the millisecond: a restarted venue never reuses an ExecID, and later runs' ids sort later."""
    started = wall_clock()
    return f"V{started:%Y%m%d%H%M%S}{started.microsecond // 1000:03d}"


class VenueServer:
    def __init__(self, host: str, port: int, venue_comp_id: str, client_comp_ids: list[str], data_dir: Path,
                 data_dictionary: Path, market: Market, seed: int, tick_interval_s: float = 0.0,
                 latency_s: float = 0.0, price_improvement_probability: Decimal = Decimal(0),
                 clock: Callable[[], datetime] = SystemClock().now, queue_size: int = DEFAULT_QUEUE_SIZE, *,
                 calendar: TradingCalendar | None = None, cusips: Mapping[str, str] | None = None,
                 opening_positions: Mapping[str, Mapping[str, Decimal]] | None = None,
                 mqtt_url: str | None = None, md_publish_rate_hz: float = DEFAULT_MD_PUBLISH_RATE_HZ,
                 md_topic_prefix: str = DEFAULT_TOPIC_PREFIX, id_prefix: str | None = None,
                 store: VenueStore | None = None) -> None:
        """`calendar`: orders are rejected while the US market is closed, and statements settle on its
        business days (None: always open, settlement skips weekends only). `cusips`: symbol -> CUSIP for
        the reports. `opening_positions`: account -> symbol -> shares at custody before any fill.
        `mqtt_url` None: no market data is published. `id_prefix`: of every OrderID/ExecID (default: the
        real start time, see start_id_prefix). `store`: the venue's own durable store (executions,
        orders, the NBBO price board, statements written); None keeps everything in memory."""
        if not client_comp_ids:
            raise VenueConfigError("the venue needs at least one client session")
        if tick_interval_s < 0:
            raise VenueConfigError(f"tick interval {tick_interval_s} s cannot be negative")
        self.market = market
        self._clock = clock
        self._tick_interval_s = tick_interval_s
        self._calendar = calendar if calendar is not None else TradingCalendar()
        self._cusips = dict(cusips or {})
        self._store = store
        self._data_dir = Path(data_dir)
        self._client_comp_ids = list(client_comp_ids)
        journal = FillJournal(opening_positions)
        for fill in store.fills() if store is not None else []:
            journal.record(fill)  # what the venue traded before a restart stands
        self.engine = MatchingEngine(market, clock, random.Random(seed), price_improvement_probability,
                                     id_prefix=id_prefix or start_id_prefix(), calendar=calendar,
                                     journal=journal)
        self.application = VenueApplication(self.engine, clock, latency_s, queue_size, store=store)
        self._trade_date = trade_date_of(clock())
        spec = EngineSpec(
            name=f"venue-{venue_comp_id}", connection_type="acceptor", host=host, port=port,
            # Persistent sequence numbers (the default): QuickFIX replays the reports, fills
            # included, that a disconnected client missed; the broker connector relies on it.
            sessions=tuple(SessionSpec(venue_comp_id, client) for client in client_comp_ids),
            data_dir=Path(data_dir), data_dictionary=Path(data_dictionary),
        )
        self._fix_engine = FixEngine(spec, self.application)
        self._listeners: list[NbboListener] = []
        self._listeners_lock = threading.Lock()
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None
        self.market_data = (MarketDataPublisher(mqtt_url, market, md_publish_rate_hz, md_topic_prefix)
                            if mqtt_url else None)
        if self.market_data is not None:
            self.subscribe(self.market_data.on_nbbo)

    def start(self) -> None:
        self._fix_engine.start()
        if self._store is not None:
            # Orders live when the venue stopped are canceled; the reports wait in each client's
            # FIX store until it logs on. Before the worker runs: nothing else touches the engine yet.
            restored = self._store.live_orders()
            self.application.send_events(self.engine.cancel_restored(restored, "venue restarted: order canceled"))
            self._store.save_nbbo(self.market.nbbo(symbol, self._clock()) for symbol in self.market.symbols())
        self.application.start()
        if self.market_data is not None:
            self.market_data.start()
            now = self._clock()
            for symbol in self.market.symbols():  # the opening book, before the first step
                self.market_data.on_nbbo(self.market.nbbo(symbol, now))
        if self._tick_interval_s > 0:
            self._ticker = threading.Thread(target=self._tick_forever, name="venue-ticker", daemon=True)
            self._ticker.start()
        log.info("venue_started", tick_interval_s=self._tick_interval_s)

    def stop(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=TICKER_JOIN_TIMEOUT_S)
        # The worker stops first so it never sends on a session QuickFIX is tearing down.
        self.application.stop()
        self._fix_engine.stop()
        if self.market_data is not None:
            self.market_data.stop()
        log.info("venue_stopped")

    def statement(self, trade_date: date, account: str, path: Path) -> Path:
        """Write the T+1 settlement statement of `account` (a client CompID) for `trade_date`."""
        fills = self.engine.fills(trade_date=trade_date, account=account)
        return write_statement(fills, trade_date, account, path, self._cusips, self._calendar)

    def positions(self, path: Path) -> Path:
        """Write the custody position report (shares held per client account), as of the venue clock."""
        return write_positions(self.engine.positions(), self._clock(), path, self._cusips)

    def _close_trading_days(self, now: datetime) -> None:
        """At the end of each trading day: its T+1 statement per client, and the position report."""
        today = trade_date_of(now)
        if today == self._trade_date:
            return
        closed, self._trade_date = self._trade_date, today
        self.write_statements(closed)

    def write_statements(self, trade_date: date) -> list[Path]:
        """The statements of `trade_date` for every client, and the custody position report, under
        data_dir/venue/ (what `rfq-gateway venue statement` writes on demand)."""
        folder = self._data_dir / "venue"
        written = [self.statement(trade_date, account, folder / statement_file_name(account, trade_date))
                   for account in self._client_comp_ids]
        written.append(self.positions(folder / "positions.csv"))
        if self._store is not None:
            self._store.mark_statement_written(trade_date, self._clock())
        return written

    def subscribe(self, listener: NbboListener) -> None:
        """`listener` receives every symbol's NBBO after each market step (on the ticker thread)."""
        with self._listeners_lock:
            if len(self._listeners) >= MAX_LISTENERS:
                raise LimitExceeded(f"at most {MAX_LISTENERS} NBBO listeners")
            self._listeners.append(listener)

    def step_market(self) -> list[Nbbo]:
        """One market step: requote, let resting orders match, then publish the new NBBOs."""
        self.market.step_all()
        self.application.notify_market_update()
        now = self._clock()
        snapshots = [self.market.nbbo(symbol, now) for symbol in self.market.symbols()]
        if self._store is not None:
            self._store.save_nbbo(snapshots)
            self._close_trading_days(now)
        with self._listeners_lock:
            listeners = list(self._listeners)
        for listener in listeners:
            for nbbo in snapshots:
                try:
                    listener(nbbo)
                except Exception:  # noqa: BLE001 - a failing subscriber must not stop the market
                    log.exception("nbbo_listener_failed", symbol=nbbo.symbol)
        return snapshots

    def _tick_forever(self) -> None:
        while not self._stopping.wait(self._tick_interval_s):
            try:
                self.step_market()
            except Exception:  # noqa: BLE001 - the ticker must survive one bad step
                log.exception("venue_tick_failed")
