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

from transport.mqtt import MqttConnection, pause
from venue_sim.errors import LimitExceeded, VenueConfigError
from venue_sim.market import BookSnapshot, ExchangeQuote, Market, Nbbo, plain

log = structlog.get_logger(__name__)

DEFAULT_TOPIC_PREFIX = "md"
NBBO_TOPIC_LEVEL = "nbbo"
IDLE_WAIT_S = 1.0
MAX_SYMBOLS = 4096

T = TypeVar("T")


def slugify(venue: str) -> str:
    """'NYSE Arca' -> 'nyse-arca': lower case, every run of other characters becomes one dash."""
    slug = re.sub(r"[^a-z0-9]+", "-", venue.lower()).strip("-")
    if not slug:
        raise VenueConfigError(f"venue name {venue!r} has no letters or digits")
    return slug


def check_topic_level(level: str) -> str:
    """A configured symbol as one MQTT topic level: no separator, no wildcard."""
    if not level or set(level) & {"/", "+", "#"}:
        raise VenueConfigError(f"{level!r} cannot be one MQTT topic level")
    return level


def check_topic_prefix(prefix: str) -> str:
    if not prefix or set(prefix) & {"+", "#"} or prefix.endswith("/"):
        raise VenueConfigError(f"bad MQTT topic prefix {prefix!r}: no wildcard, no trailing '/'")
    return prefix


def iso_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat()


def nbbo_payload(nbbo: Nbbo, seq: int) -> dict[str, object]:
    return {"symbol": nbbo.symbol, "bid": plain(nbbo.bid), "bid_size": plain(nbbo.bid_size),
            "ask": plain(nbbo.ask), "ask_size": plain(nbbo.ask_size), "bid_venues": list(nbbo.bid_venues),
            "ask_venues": list(nbbo.ask_venues), "ts": iso_utc(nbbo.as_of), "seq": seq}


def quote_payload(symbol: str, quote: ExchangeQuote, as_of: datetime, seq: int) -> dict[str, object]:
    return {"symbol": symbol, "venue": quote.venue, "bid": plain(quote.bid), "bid_size": plain(quote.bid_size),
            "ask": plain(quote.ask), "ask_size": plain(quote.ask_size), "ts": iso_utc(as_of), "seq": seq}


def market_data_messages(snapshot: BookSnapshot, topic_prefix: str, seq: int) -> list[tuple[str, bytes]]:
    """(topic, payload) of one update: every venue quote, then the NBBO."""
    nbbo = snapshot.nbbo
    symbol = check_topic_level(nbbo.symbol)
    messages = []
    for quote in snapshot.quotes:
        slug = slugify(quote.venue)
        if slug == NBBO_TOPIC_LEVEL:
            raise VenueConfigError(f"venue {quote.venue} would collide with the NBBO topic")
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
        if min_interval_s < 0:
            raise VenueConfigError(f"publish interval {min_interval_s} s cannot be negative")
        if max_keys <= 0:
            raise VenueConfigError(f"key limit {max_keys}: the number of keys must be bounded by a positive limit")
        self._min_interval_s = min_interval_s
        self._max_keys = max_keys
        self._pending: dict[str, T] = {}
        self._released_at: dict[str, float] = {}
        self.coalesced = 0  # offers replaced by a newer one before they were released

    def offer(self, key: str, item: T) -> None:
        if key in self._pending:
            self.coalesced += 1
        elif key not in self._released_at and len(self._released_at) + len(self._pending) >= self._max_keys:
            # Keys are the market's symbols, a configuration: more than the limit is a setup error.
            raise LimitExceeded(f"more than {self._max_keys} market-data keys (new key {key!r})")
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
    """Publishes market-data updates from its own thread (transport.mqtt.MqttConnection).

    `on_nbbo` is the VenueServer listener: it snapshots the symbol's book and returns at once.
    """

    def __init__(self, mqtt_url: str, market: Market, publish_rate_hz: float,
                 topic_prefix: str = DEFAULT_TOPIC_PREFIX, monotonic: Callable[[], float] = time.monotonic) -> None:
        if not publish_rate_hz > 0:
            raise VenueConfigError(f"market-data publish rate {publish_rate_hz} Hz must be positive")
        self._market = market
        self._topic_prefix = check_topic_prefix(topic_prefix)
        self._monotonic = monotonic
        self._slots: LatestPerKey[BookSnapshot] = LatestPerKey(1.0 / publish_rate_hz)
        self._slots_lock = threading.Lock()
        self._seq: dict[str, int] = {}
        self._connection = MqttConnection(mqtt_url, "venue-market-data", self._publish_until_stopped)
        self.published_updates = 0

    @property
    def connected(self) -> threading.Event:
        """Set while connected, as far as the publisher knows."""
        return self._connection.connected

    @property
    def connections(self) -> int:
        """Successful connects so far (reconnects included)."""
        return self._connection.connections

    def start(self) -> None:
        self._connection.start()

    def stop(self) -> None:
        self._connection.stop()

    def on_nbbo(self, nbbo: Nbbo) -> None:
        # The symbol's quotes and NBBO are read together: a fill since the listener's NBBO was
        # computed shows in both, so the published NBBO always matches the published quotes.
        self.offer(self._market.snapshot(nbbo.symbol, nbbo.as_of))

    def offer(self, snapshot: BookSnapshot) -> None:
        with self._slots_lock:
            self._slots.offer(snapshot.nbbo.symbol, snapshot)
        self._connection.wake()

    # -- publisher thread ---------------------------------------------------------------------
    async def _publish_until_stopped(self, client: aiomqtt.Client, wake: asyncio.Event) -> None:
        while not self._connection.stopping:
            wake.clear()  # before looking: an offer from now on wakes the wait below
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
                await pause(IDLE_WAIT_S if wait_s is None else wait_s, wake)

    async def _publish(self, client: aiomqtt.Client, snapshot: BookSnapshot) -> None:
        symbol = snapshot.nbbo.symbol
        seq = self._seq.get(symbol, 0) + 1
        for topic, payload in market_data_messages(snapshot, self._topic_prefix, seq):
            await client.publish(topic, payload, qos=0)
        self._seq[symbol] = seq
        self.published_updates += 1
