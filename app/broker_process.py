"""The broker connector as its own process: FIX to the gateway and the venue, prices
from the venue's market data on MQTT, state in the shared SQL store."""
from __future__ import annotations

import sys

import structlog

from app.processes import wait_for_stop
from app.settings import Settings
from broker.connector import BrokerConnector, Endpoint
from broker.feeds import PriceFeed, ReferencePrices
from broker.mqtt_feed import MqttMarketFeed
from broker.order_manager import OrderTimers
from broker.solver import BrokerConfig
from core.clock import OffsetClock, SystemClock
from db.engine import create_db_engine, session_factory, upgrade_to_head
from ledger.uow import SqlUnitOfWork
from marketcal.store import load_trading_rules
from transport.fix.dictionary import DATA_DICTIONARY

log = structlog.get_logger(__name__)


def run_connector(settings: Settings) -> int:
    if not settings.mqtt_url:
        print("rfq-gateway broker run: MQTT_URL must be set (prices come from the venue's market data)",
              file=sys.stderr)
        return 2
    clock = OffsetClock(settings.simulated_start) if settings.simulated_start else SystemClock()
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    sessions = session_factory(engine)
    with SqlUnitOfWork(sessions) as uow:
        trading = load_trading_rules(uow.session)
    broker, gateway, venue = settings.broker, settings.gateway, settings.venue
    primary, fallback = PriceFeed("pyth-lazer"), PriceFeed("dxfeed")
    feed = MqttMarketFeed(settings.mqtt_url, venue.md_topic_prefix, primary, fallback, clock)
    credentials = next(((s.username or s.comp_id, s.password.get_secret_value()) for s in settings.sessions
                        if s.comp_id == broker.comp_id and s.password is not None), None)
    connector = BrokerConnector(
        comp_id=broker.comp_id, gateway=Endpoint(gateway.host, gateway.port, gateway.comp_id),
        venue=Endpoint(venue.host, venue.port, venue.comp_id),
        config=BrokerConfig(ticks={i.symbol: i.tick for i in settings.instruments}, margin_bps=broker.margin_bps,
                            aggression_bps=broker.aggression_bps, quote_validity_s=broker.quote_validity_s,
                            account=broker.account),
        prices=ReferencePrices(primary, fallback, broker.price_staleness_s, clock), clock=clock,
        data_dir=settings.resolved_data_dir(), data_dictionary=DATA_DICTIONARY, uow_factory=lambda: SqlUnitOfWork(sessions),
        timers=OrderTimers(broker.order_poll_interval_s, broker.order_timeout_s),
        withdraw_delay_s=broker.withdraw_delay_s, trading=trading, gateway_credentials=credentials)
    feed.start()
    connector.start()
    print(f"broker connector {broker.comp_id} running: gateway {gateway.host}:{gateway.port}, "
          f"venue {venue.host}:{venue.port}; Ctrl-C stops", flush=True)
    try:
        wait_for_stop()
    finally:
        connector.stop()
        feed.stop()
        engine.dispose()
    return 0
