"""The venue publishes every exchange quote and the NBBO to a real Mosquitto broker."""
from __future__ import annotations

import json
import secrets
import socket
import threading
from datetime import timezone
from decimal import Decimal

import paho.mqtt.client as mqtt
import pytest

from core.clock import FakeClock
from tests.integration.conftest import wait_until
from tests.integration.test_venue_fix import CLIENT, FIX44_XML, VENUE, free_port
from tests.unit.test_sim_sessions import et
from venue_sim.market import Market
from venue_sim.market_data import slugify
from venue_sim.server import VenueServer

pytestmark = [pytest.mark.mqtt, pytest.mark.fix]

D = Decimal
MQTT_URL = "mqtt://127.0.0.1:1883"
MONDAY_TEN_AM = et(2026, 11, 23, 10, 0)


class MarketDataSubscriber:
    """Keeps the latest message of every topic under `prefix` (latest wins, as the feed promises)."""

    def __init__(self, prefix: str) -> None:
        self.latest: dict[str, dict] = {}
        self.count = 0
        self._lock = threading.Lock()
        subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda client, *_: client.subscribe(f"{prefix}/#", qos=0)
        self._client.on_subscribe = lambda *_: subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", 1883)
        self._client.loop_start()
        assert subscribed.wait(10), "could not subscribe on Mosquitto at 127.0.0.1:1883"

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.latest[message.topic] = json.loads(message.payload)
            self.count += 1

    def snapshot(self) -> dict[str, dict]:
        with self._lock:
            return dict(self.latest)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def expected_messages(prefix: str, market: Market, symbol: str, clock: FakeClock) -> dict[str, dict]:
    """The values each topic of `symbol` must carry (seq aside): the book as it is now."""
    book = market.snapshot(symbol, clock.now())
    ts = clock.now().astimezone(timezone.utc).isoformat()
    expected = {f"{prefix}/{symbol}/{slugify(q.venue)}": {
        "symbol": symbol, "venue": q.venue, "bid": str(q.bid), "bid_size": str(q.bid_size),
        "ask": str(q.ask), "ask_size": str(q.ask_size), "ts": ts} for q in book.quotes}
    nbbo = book.nbbo
    expected[f"{prefix}/{symbol}/nbbo"] = {
        "symbol": symbol, "bid": str(nbbo.bid), "bid_size": str(nbbo.bid_size), "ask": str(nbbo.ask),
        "ask_size": str(nbbo.ask_size), "bid_venues": list(nbbo.bid_venues), "ask_venues": list(nbbo.ask_venues),
        "ts": ts}
    return expected


def without_seq(body: dict) -> dict:
    return {key: value for key, value in body.items() if key != "seq"}


def matches(subscriber: MarketDataSubscriber, expected: dict[str, dict]) -> bool:
    latest = subscriber.snapshot()
    return all(topic in latest and without_seq(latest[topic]) == body for topic, body in expected.items())


@pytest.fixture
def prefix() -> str:
    return f"test-{secrets.token_hex(4)}/md"


def start_publishing_venue(tmp_path, prefix: str, clock: FakeClock) -> VenueServer:
    market = Market({"AAPL": D("227.43"), "MSFT": D("415.10")}, seed=7)
    server = VenueServer("127.0.0.1", free_port(), VENUE, [CLIENT], tmp_path / "venue", FIX44_XML, market, seed=1,
                         clock=clock.now, mqtt_url=MQTT_URL, md_publish_rate_hz=1000.0, md_topic_prefix=prefix)
    server.start()
    return server


def test_each_market_step_publishes_venue_quotes_and_the_nbbo(tmp_path, prefix):
    subscriber = MarketDataSubscriber(prefix)
    clock = FakeClock(MONDAY_TEN_AM)
    server = start_publishing_venue(tmp_path, prefix, clock)
    try:
        # The opening book is published on start, before any step.
        opening = expected_messages(prefix, server.market, "AAPL", clock)
        wait_until(lambda: matches(subscriber, opening), what="the opening AAPL book on MQTT")
        for _ in range(3):
            clock.advance(1)
            server.step_market()
            for symbol in ("AAPL", "MSFT"):
                expected = expected_messages(prefix, server.market, symbol, clock)
                wait_until(lambda wanted=expected: matches(subscriber, wanted), what=f"{symbol} book after a step")
        latest = subscriber.snapshot()
        assert len(expected) == 17  # sixteen lit exchanges and the NBBO
        assert f"{prefix}/AAPL/nyse-arca" in latest and f"{prefix}/MSFT/nbbo" in latest
        nbbo = latest[f"{prefix}/AAPL/nbbo"]
        assert D(nbbo["bid"]) < D(nbbo["ask"])
        venues = [body for topic, body in latest.items() if topic.startswith(f"{prefix}/AAPL/")
                  and not topic.endswith("/nbbo")]
        assert D(nbbo["bid"]) == max(D(v["bid"]) for v in venues)
        assert D(nbbo["ask"]) == min(D(v["ask"]) for v in venues)
        # Venue quotes go out before the NBBO of the same update: the NBBO's seq is never ahead.
        assert {body["seq"] for body in venues} == {nbbo["seq"]}
    finally:
        server.stop()
        subscriber.close()


def test_without_mqtt_nothing_is_published(tmp_path):
    market = Market({"AAPL": D("227.43")}, seed=7)
    server = VenueServer("127.0.0.1", free_port(), VENUE, [CLIENT], tmp_path / "venue", FIX44_XML, market, seed=1)
    assert server.market_data is None
    assert [n.symbol for n in server.step_market()] == ["AAPL"]


class DroppableProxy:
    """A TCP relay to Mosquitto whose connections the test can cut, as a network failure would."""

    def __init__(self, target_port: int = 1883) -> None:
        self._target_port = target_port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.accepted = 0
        threading.Thread(target=self._accept_forever, daemon=True).start()

    def _accept_forever(self) -> None:
        while True:
            try:
                inbound, _ = self._listener.accept()
            except OSError:
                return  # closed
            outbound = socket.create_connection(("127.0.0.1", self._target_port))
            with self._lock:
                self._sockets += [inbound, outbound]
                self.accepted += 1
            for source, sink in ((inbound, outbound), (outbound, inbound)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def drop_connections(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for end in sockets:
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self) -> None:
        self._listener.close()
        self.drop_connections()


def test_publisher_reconnects_after_the_connection_drops(tmp_path, prefix):
    proxy = DroppableProxy()
    subscriber = MarketDataSubscriber(prefix)
    clock = FakeClock(MONDAY_TEN_AM)
    market = Market({"AAPL": D("227.43")}, seed=5)
    server = VenueServer("127.0.0.1", free_port(), VENUE, [CLIENT], tmp_path / "venue", FIX44_XML, market, seed=1,
                         clock=clock.now, mqtt_url=f"mqtt://127.0.0.1:{proxy.port}", md_publish_rate_hz=1000.0,
                         md_topic_prefix=prefix)
    server.start()
    try:
        wait_until(lambda: matches(subscriber, expected_messages(prefix, market, "AAPL", clock)), what="opening book")
        assert server.market_data.connections == 1
        proxy.drop_connections()
        # The publisher notices the drop while idle, and reconnects after its backoff.
        wait_until(lambda: server.market_data.connections == 2 and server.market_data.connected.is_set(),
                   what="the publisher to reconnect")
        clock.advance(1)
        server.step_market()
        expected = expected_messages(prefix, market, "AAPL", clock)
        wait_until(lambda: matches(subscriber, expected), what="the book published after reconnecting")
        assert proxy.accepted == 2
    finally:
        server.stop()
        subscriber.close()
        proxy.close()
