"""Publishes the venue's quotes and the NBBO on MQTT (aiomqtt), like a consolidated market-data feed.

Topics, one message per venue quote and one for the NBBO of each published update:

    {prefix}/{symbol}/{venue-slug}   e.g. md/AAPL/nyse-arca
    {prefix}/{symbol}/nbbo

Payloads are JSON; prices and sizes are decimal strings (never floats) and `ts` is the ISO 8601 UTC
time of the snapshot. Every message of one update carries the same per-symbol `seq`, and the venue
quotes are published before the NBBO, so a consumer holding NBBO `seq` n has all quotes of update n.

Updates are coalesced per symbol (latest wins) and published at most `publish_rate_hz` times per
second per symbol: the pending work is one slot per symbol, so a slow or absent broker never lets a
queue grow. Delivery is QoS 0: a stale quote is worth nothing, the next update replaces it.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Generic, TypeVar

import aiomqtt
import structlog

from transport.mqtt import parse_mqtt_url
from venue_sim.market import BookSnapshot, ExchangeQuote, Market, Nbbo, plain

log = structlog.get_logger(__name__)

DEFAULT_TOPIC_PREFIX = "md"
NBBO_TOPIC_LEVEL = "nbbo"
INITIAL_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0
CONNECT_TIMEOUT_S = 5.0
IDLE_WAIT_S = 1.0
STOP_TIMEOUT_S = 10.0
MAX_SYMBOLS = 4096

T = TypeVar("T")


def slugify(venue: str) -> str:
    """'NYSE Arca' -> 'nyse-arca': lower case, every run of other characters becomes one dash."""
    slug = re.sub(r"[^a-z0-9]+", "-", venue.lower()).strip("-")
    assert slug, f"venue name {venue!r} has no letters or digits"
    return slug


def check_topic_level(level: str) -> str:
    assert level and not set(level) & {"/", "+", "#"}, f"{level!r} cannot be one MQTT topic level"
    return level


def check_topic_prefix(prefix: str) -> str:
    assert prefix and not set(prefix) & {"+", "#"} and not prefix.endswith("/"), f"bad topic prefix {prefix!r}"
    return prefix


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def nbbo_payload(nbbo: Nbbo, seq: int) -> dict:
    return {"symbol": nbbo.symbol, "bid": plain(nbbo.bid), "bid_size": plain(nbbo.bid_size),
            "ask": plain(nbbo.ask), "ask_size": plain(nbbo.ask_size), "bid_venues": list(nbbo.bid_venues),
            "ask_venues": list(nbbo.ask_venues), "ts": iso_utc(nbbo.as_of), "seq": seq}


def quote_payload(symbol: str, quote: ExchangeQuote, as_of: datetime, seq: int) -> dict:
    return {"symbol": symbol, "venue": quote.venue, "bid": plain(quote.bid), "bid_size": plain(quote.bid_size),
            "ask": plain(quote.ask), "ask_size": plain(quote.ask_size), "ts": iso_utc(as_of), "seq": seq}


def market_data_messages(snapshot: BookSnapshot, topic_prefix: str, seq: int) -> list[tuple[str, bytes]]:
    """(topic, payload) of one update: every venue quote, then the NBBO."""
    nbbo = snapshot.nbbo
    symbol = check_topic_level(nbbo.symbol)
    messages = []
    for quote in snapshot.quotes:
        slug = slugify(quote.venue)
        assert slug != NBBO_TOPIC_LEVEL, f"venue {quote.venue} would collide with the NBBO topic"
        body = quote_payload(symbol, quote, nbbo.as_of, seq)
        messages.append((f"{topic_prefix}/{symbol}/{slug}", json.dumps(body, sort_keys=True).encode()))
    body = nbbo_payload(nbbo, seq)
    messages.append((f"{topic_prefix}/{symbol}/{NBBO_TOPIC_LEVEL}", json.dumps(body, sort_keys=True).encode()))
    return messages


class LatestPerKey(Generic[T]):
    """One pending item per key (a newer offer replaces it), released at most once per interval per key.

    Pure bookkeeping on a caller-supplied monotonic time; not thread-safe on its own.
    """

    def __init__(self, min_interval_s: float, max_keys: int = MAX_SYMBOLS) -> None:
        assert min_interval_s >= 0, "interval cannot be negative"
        assert max_keys > 0, "the number of keys must be bounded"
        self._min_interval_s = min_interval_s
        self._max_keys = max_keys
        self._pending: dict[str, T] = {}
        self._released_at: dict[str, float] = {}
        self.coalesced = 0  # offers replaced by a newer one before they were released

    def offer(self, key: str, item: T) -> None:
        if key in self._pending:
            self.coalesced += 1
        elif key not in self._released_at:
            assert len(self._released_at) + len(self._pending) < self._max_keys, "too many keys"
        self._pending[key] = item

    def restore(self, key: str, item: T) -> None:
        """Put back an item whose release failed, unless a newer one arrived meanwhile."""
        self._pending.setdefault(key, item)

    def take_due(self, now_s: float) -> list[tuple[str, T]]:
        due = [key for key in self._pending if self._wait_s(key, now_s) == 0]
        for key in due:
            self._released_at[key] = now_s
        return [(key, self._pending.pop(key)) for key in due]

    def seconds_until_due(self, now_s: float) -> float | None:
        """How long until the next pending item may be released; None when nothing is pending."""
        return min((self._wait_s(key, now_s) for key in self._pending), default=None)

    def _wait_s(self, key: str, now_s: float) -> float:
        released_at = self._released_at.get(key)
        if released_at is None:
            return 0.0
        return max(0.0, released_at + self._min_interval_s - now_s)


class MarketDataPublisher:
    """Publishes market-data updates from its own thread (an asyncio loop with one aiomqtt client).

    `on_nbbo` is the VenueServer listener: it snapshots the symbol's book and returns at once.
    """

    def __init__(self, mqtt_url: str, market: Market, publish_rate_hz: float,
                 topic_prefix: str = DEFAULT_TOPIC_PREFIX, monotonic: Callable[[], float] = time.monotonic) -> None:
        assert publish_rate_hz > 0, "the publish rate must be positive"
        self._host, self._port, self._username, self._password = parse_mqtt_url(mqtt_url)
        self._market = market
        self._topic_prefix = check_topic_prefix(topic_prefix)
        self._monotonic = monotonic
        self._slots: LatestPerKey[BookSnapshot] = LatestPerKey(1.0 / publish_rate_hz)
        self._slots_lock = threading.Lock()
        self._seq: dict[str, int] = {}
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="venue-market-data",
                                        daemon=True)
        self.connected = threading.Event()  # set while connected, as far as the publisher knows
        self.connections = 0  # successful connects so far (reconnects included)
        self.published_updates = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake_loop()
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("market_data_stop_timed_out", timeout_s=STOP_TIMEOUT_S)

    def on_nbbo(self, nbbo: Nbbo) -> None:
        # The symbol's quotes and NBBO are read together: a fill since the listener's NBBO was
        # computed shows in both, so the published NBBO always matches the published quotes.
        self.offer(self._market.snapshot(nbbo.symbol, nbbo.as_of))

    def offer(self, snapshot: BookSnapshot) -> None:
        with self._slots_lock:
            self._slots.offer(snapshot.nbbo.symbol, snapshot)
        self._wake_loop()

    def _wake_loop(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return  # not running yet: the loop looks at the slots when it starts
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:
            pass  # the loop has already closed (stopping)

    # -- publisher thread ---------------------------------------------------------------------
    async def _run(self) -> None:
        self._wake = asyncio.Event()
        self._loop = asyncio.get_running_loop()
        backoff_s = INITIAL_BACKOFF_S
        while not self._stopping.is_set():
            try:
                async with aiomqtt.Client(self._host, self._port, username=self._username, password=self._password,
                                          identifier=None, timeout=CONNECT_TIMEOUT_S) as client:
                    backoff_s = INITIAL_BACKOFF_S
                    self.connections += 1
                    self.connected.set()
                    log.info("market_data_connected", host=self._host, port=self._port, prefix=self._topic_prefix)
                    await self._serve(client)
            except (aiomqtt.MqttError, OSError) as error:
                log.warning("market_data_mqtt_unavailable", error=str(error), retry_in_s=backoff_s)
            except Exception:  # noqa: BLE001 - market data must survive one bad update
                log.exception("market_data_publish_failed", retry_in_s=backoff_s)
            finally:
                self.connected.clear()
            if not self._stopping.is_set():
                await self._back_off(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)

    async def _serve(self, client: aiomqtt.Client) -> None:
        """Publish until stopped; a dropped connection raises MqttError even while nothing is published."""
        publishing = asyncio.create_task(self._publish_until_stopped(client))
        watching = asyncio.create_task(self._watch_connection(client))
        done, pending = await asyncio.wait({publishing, watching}, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()  # re-raises the MqttError of a dropped connection

    @staticmethod
    async def _watch_connection(client: aiomqtt.Client) -> None:
        # Nothing is subscribed, so the iteration only ends by raising MqttError on a disconnect:
        # the publisher reconnects at once instead of at its next publish.
        async for _message in client.messages:
            pass
        raise aiomqtt.MqttError("market-data connection watch ended")

    async def _publish_until_stopped(self, client: aiomqtt.Client) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before looking: an offer from now on wakes the wait below
            with self._slots_lock:
                due = self._slots.take_due(self._monotonic())
            for symbol, snapshot in due:
                try:
                    await self._publish(client, snapshot)
                except BaseException:
                    with self._slots_lock:
                        self._slots.restore(symbol, snapshot)
                    raise
            if not due:
                with self._slots_lock:
                    wait_s = self._slots.seconds_until_due(self._monotonic())
                await self._pause(IDLE_WAIT_S if wait_s is None else wait_s)

    async def _publish(self, client: aiomqtt.Client, snapshot: BookSnapshot) -> None:
        symbol = snapshot.nbbo.symbol
        seq = self._seq.get(symbol, 0) + 1
        for topic, payload in market_data_messages(snapshot, self._topic_prefix, seq):
            await client.publish(topic, payload, qos=0)
        self._seq[symbol] = seq
        self.published_updates += 1

    async def _back_off(self, delay_s: float) -> None:
        """Wait out the reconnect delay; offers keep coalescing meanwhile, only stop() cuts it short."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay_s
        while not self._stopping.is_set() and (remaining_s := deadline - loop.time()) > 0:
            self._wake.clear()
            await self._pause(remaining_s)

    async def _pause(self, timeout_s: float) -> None:
        """Sleep up to `timeout_s`, or less if an offer or stop() wakes the loop."""
        try:
            await asyncio.wait_for(self._wake.wait(), timeout_s)
        except TimeoutError:
            pass
