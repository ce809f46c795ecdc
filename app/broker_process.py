"""The broker connector as its own process: FIX to the gateway and the venue, prices
from the venue's market data on MQTT, state in the shared SQL store."""
from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import structlog

from app.processes import wait_for_stop
from app.settings import Settings
from broker.connector import BrokerConnector, Endpoint, FixSessionPolicy
from broker.feeds import FeedPoller, PriceFeed, ReferencePrices
from broker.mqtt_feed import MqttMarketFeed
from broker.order_manager import OrderTimers
from broker.solver import BrokerConfig
from core.clock import Clock, OffsetClock, SystemClock
from db.engine import create_db_engine, session_factory, upgrade_to_head
from ledger.uow import SqlUnitOfWork
from marketcal.sessions import TradingRules
from marketcal.store import load_trading_rules
from transport.fix.dictionary import DATA_DICTIONARY

log = structlog.get_logger(__name__)


def build_connector(settings: Settings, clock: Clock, prices: ReferencePrices,
                    uow_factory: Callable[[], SqlUnitOfWork], trading: TradingRules) -> BrokerConnector:
    """The broker connector from settings: the one place it is built (in `serve` and `broker run`)."""
    broker, gateway, venue = settings.broker, settings.gateway, settings.venue
    return BrokerConnector(
        comp_id=broker.comp_id, gateway=Endpoint(gateway.host, gateway.port, gateway.comp_id),
        venue=Endpoint(venue.host, venue.port, venue.comp_id),
        config=BrokerConfig(ticks={i.symbol: i.tick for i in settings.instruments}, margin_bps=broker.margin_bps,
                            aggression_bps=broker.aggression_bps, quote_validity_s=broker.quote_validity_s,
                            account=broker.account, borrow_capacity_usdc=broker.borrow_capacity_usdc),
        prices=prices, clock=clock, data_dir=settings.resolved_data_dir(), data_dictionary=DATA_DICTIONARY,
        uow_factory=uow_factory, timers=OrderTimers(broker.order_poll_interval_s, broker.order_timeout_s),
        withdraw_delay_s=broker.withdraw_delay_s, trading=trading,
        gateway_credentials=settings.credentials_of(broker.comp_id),
        fix_policy=FixSessionPolicy(settings.fix_options_for(broker.comp_id), settings.fix.schedule.schedule(),
                                    settings.fix.store))


def price_feeds() -> tuple[PriceFeed, PriceFeed]:
    """The connector's two reference-price feeds: a primary and a fallback provider."""
    return PriceFeed("pyth-lazer"), PriceFeed("dxfeed")


def run_connector(settings: Settings, price_board: Callable[[str], tuple[Decimal, Decimal] | None]) -> int:
    """`broker run`: prices from the venue's market data on MQTT when MQTT_URL is set, else from the
    venue's price board (its store, on this machine)."""
    clock = OffsetClock(settings.simulated_start) if settings.simulated_start else SystemClock()
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    sessions = session_factory(engine)
    with SqlUnitOfWork(sessions) as uow:
        trading = load_trading_rules(uow.session)
    primary, fallback = price_feeds()
    feed: MqttMarketFeed | FeedPoller = (
        MqttMarketFeed(settings.mqtt_url, settings.venue.md_topic_prefix, primary, fallback, clock)
        if settings.mqtt_url else
        FeedPoller([primary, fallback], price_board, [i.symbol for i in settings.instruments], clock,
                   settings.broker.feed_poll_interval_s))
    prices = ReferencePrices(primary, fallback, settings.broker.price_staleness_s, clock)
    connector = build_connector(settings, clock, prices, lambda: SqlUnitOfWork(sessions), trading)
    feed.start()
    connector.start()
    gateway, venue = settings.gateway, settings.venue
    print(f"broker connector {settings.broker.comp_id} running: gateway {gateway.host}:{gateway.port}, "
          f"venue {venue.host}:{venue.port}; Ctrl-C stops", flush=True)
    try:
        wait_for_stop()
    finally:
        connector.stop()
        feed.stop()
        engine.dispose()
    return 0
