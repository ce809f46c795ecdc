"""The simulated venue: built once from settings (for `serve` in process, and for `venue run` as
a process of its own), and its statements on demand (`venue statement`)."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import structlog

from app.processes import wait_for_stop
from app.settings import Settings
from core.clock import Clock, OffsetClock, SystemClock
from db.engine import create_db_engine, session_factory, upgrade_to_head
from ledger.uow import SqlUnitOfWork
from marketcal.sessions import TradingCalendar
from marketcal.store import load_trading_rules
from transport.fix.dictionary import DATA_DICTIONARY
from venue_sim.custody import FillJournal
from venue_sim.market import Market
from venue_sim.server import VenueServer
from venue_sim.statements import statement_file_name, write_positions, write_statement
from venue_sim.store import PriceBoard, VenueStore, store_path

log = structlog.get_logger(__name__)

VENUE_PRICE_MAX_AGE_S = 5.0  # a venue NBBO older than this (wall clock) is no reference price
VENUE_START_TIMEOUT_S = 30.0
JOURNAL_RETENTION_DAYS = 36_500  # positions from every fill the store holds, whatever its age


def build_venue(settings: Settings, clock: Clock, calendar: TradingCalendar, market: Market) -> VenueServer:
    venue, data_dir = settings.venue, settings.resolved_data_dir()
    return VenueServer(host=venue.host, port=venue.port, venue_comp_id=venue.comp_id,
                       client_comp_ids=[settings.broker.comp_id], data_dir=data_dir,
                       data_dictionary=DATA_DICTIONARY, market=market, seed=venue.seed,
                       tick_interval_s=venue.tick_interval_s, latency_s=venue.latency_s,
                       price_improvement_probability=venue.price_improvement_probability,
                       clock=clock.now, calendar=calendar,
                       cusips={i.symbol: i.cusip for i in settings.instruments if i.cusip},
                       opening_positions=venue.opening_positions, mqtt_url=settings.mqtt_url,
                       md_publish_rate_hz=venue.md_publish_rate_hz, md_topic_prefix=venue.md_topic_prefix,
                       store=VenueStore(store_path(data_dir)))


def market_of(settings: Settings) -> Market:
    return Market({i.symbol: i.reference_price for i in settings.instruments}, seed=settings.venue.seed)


def price_board(settings: Settings) -> PriceBoard:
    """The venue's NBBO read from its store: reference prices when the venue is another process."""
    return PriceBoard(store_path(settings.resolved_data_dir()), VENUE_PRICE_MAX_AGE_S)


def clock_of(settings: Settings) -> Clock:
    return OffsetClock(settings.simulated_start) if settings.simulated_start else SystemClock()


def _calendar(settings: Settings) -> TradingCalendar:
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    try:
        with SqlUnitOfWork(session_factory(engine)) as uow:
            return load_trading_rules(uow.session).calendar
    finally:
        engine.dispose()


def run_venue(settings: Settings) -> int:
    """`rfq-gateway venue run`: the venue alone, its orders and fills in its own store."""
    server = build_venue(settings, clock_of(settings), _calendar(settings), market_of(settings))
    server.start()
    venue = settings.venue
    print(f"venue {venue.comp_id} listening on {venue.host}:{venue.port}; store {store_path(settings.resolved_data_dir())}; "
          "Ctrl-C stops", flush=True)
    try:
        wait_for_stop()
    finally:
        server.stop()
    return 0


def write_statement_now(settings: Settings, trade_date: date, account: str | None) -> list[Path]:
    """`rfq-gateway venue statement --date D`: from the venue's store, running or not."""
    data_dir = settings.resolved_data_dir()
    store = VenueStore(store_path(data_dir))
    cusips = {i.symbol: i.cusip for i in settings.instruments if i.cusip}
    calendar = _calendar(settings)
    accounts = [account] if account else [settings.broker.comp_id]
    folder = data_dir / "venue"
    written = [write_statement(store.fills(trade_date=trade_date, account=name), trade_date, name,
                               folder / statement_file_name(name, trade_date), cusips, calendar) for name in accounts]
    journal = FillJournal(settings.venue.opening_positions, retention_days=JOURNAL_RETENTION_DAYS)
    for fill in store.fills():
        journal.record(fill)
    written.append(write_positions(journal.positions(), clock_of(settings).now(), folder / "positions.csv", cusips))
    store.close()
    return written


def venue_is_listening(settings: Settings) -> bool:
    try:
        with socket.create_connection((settings.venue.host, settings.venue.port), timeout=0.5):
            return True
    except OSError:
        return False


def start_venue_child(settings: Settings) -> subprocess.Popen[bytes] | None:
    """For `serve`: the venue as a child process, unless one is already listening (it outlives a
    gateway crash, so a restarted gateway finds it running). Returns the child, or None."""
    if venue_is_listening(settings):
        log.info("venue_already_running", port=settings.venue.port)
        return None
    child = subprocess.Popen([sys.executable, "-m", "app.cli", "venue", "run"], start_new_session=True)
    deadline = time.monotonic() + VENUE_START_TIMEOUT_S
    while not venue_is_listening(settings):
        if child.poll() is not None or time.monotonic() > deadline:
            child.kill()
            raise RuntimeError(f"the venue did not start (exit code {child.poll()})")
        time.sleep(0.1)
    return child
