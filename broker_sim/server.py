"""Runs the simulated venue: a QuickFIX acceptor, its worker, and a market ticker thread."""
from __future__ import annotations

import random
import threading
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Callable

import structlog

from broker_sim.fix_app import DEFAULT_QUEUE_SIZE, VenueApplication
from broker_sim.market import Market, Nbbo
from broker_sim.matching import MatchingEngine
from fixio.engine import FixEngine
from fixio.settings_builder import EngineSpec, SessionSpec

log = structlog.get_logger(__name__)

NbboListener = Callable[[Nbbo], None]
MAX_LISTENERS = 64
TICKER_JOIN_TIMEOUT_S = 5.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class VenueServer:
    def __init__(self, host: str, port: int, venue_comp_id: str, client_comp_ids: list[str], data_dir: Path,
                 data_dictionary: Path, market: Market, seed: int, tick_interval_s: float = 0.0,
                 latency_s: float = 0.0, price_improvement_probability: Decimal = Decimal(0),
                 clock: Callable[[], datetime] = utc_now, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        assert client_comp_ids, "the venue needs at least one client session"
        assert tick_interval_s >= 0, "tick interval cannot be negative"
        self.market = market
        self._clock = clock
        self._tick_interval_s = tick_interval_s
        self.engine = MatchingEngine(market, clock, random.Random(seed), price_improvement_probability)
        self.application = VenueApplication(self.engine, clock, latency_s, queue_size)
        spec = EngineSpec(
            name=f"venue-{venue_comp_id}", connection_type="acceptor", host=host, port=port,
            sessions=tuple(SessionSpec(venue_comp_id, client) for client in client_comp_ids),
            data_dir=Path(data_dir), data_dictionary=Path(data_dictionary),
        )
        self._fix_engine = FixEngine(spec, self.application)
        self._listeners: list[NbboListener] = []
        self._listeners_lock = threading.Lock()
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> None:
        self.application.start()
        self._fix_engine.start()
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
        log.info("venue_stopped")

    def subscribe(self, listener: NbboListener) -> None:
        """`listener` receives every symbol's NBBO after each market step (on the ticker thread)."""
        with self._listeners_lock:
            assert len(self._listeners) < MAX_LISTENERS, "too many NBBO listeners"
            self._listeners.append(listener)

    def step_market(self) -> list[Nbbo]:
        """One market step: requote, let resting orders match, then publish the new NBBOs."""
        self.market.step_all()
        self.application.notify_market_update()
        now = self._clock()
        snapshots = [self.market.nbbo(symbol, now) for symbol in self.market.symbols()]
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
