"""Reference prices from the venue's market data on MQTT, for a connector running in
its own process: the primary feed takes the published NBBO (md/{symbol}/nbbo); the
fallback builds its own best bid/offer from the per-exchange quotes (md/{symbol}/{venue}).
A quote is stamped when it is received, so staleness measures silence."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from decimal import Decimal, InvalidOperation

import aiomqtt
import structlog

from broker.feeds import PriceFeed
from core.clock import Clock
from transport.mqtt import MqttConnection

log = structlog.get_logger(__name__)

CONSUME_POLL_S = 0.5  # how often a quiet feed looks whether it should stop
NBBO_LEVEL = "nbbo"
# Symbols and venues per symbol: topics come from the network, so each new name would otherwise be
# kept forever. Far above the instruments and the 16 lit venues there are; beyond it new names are ignored.
MAX_SYMBOLS = 10_000
MAX_VENUES_PER_SYMBOL = 64


class MqttMarketFeed:
    def __init__(self, mqtt_url: str, topic_prefix: str, primary: PriceFeed, fallback: PriceFeed,
                 clock: Clock) -> None:
        self._prefix, self._primary, self._fallback, self._clock = topic_prefix, primary, fallback, clock
        self._venue_quotes: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}
        self._symbols: set[str] = set()  # every symbol either feed holds a quote for
        self._connection = MqttConnection(mqtt_url, "mqtt-feed", self._consume,
                                          subscriptions=[f"{topic_prefix}/+/+"])

    def start(self) -> None:
        self._connection.start()

    def stop(self) -> None:
        self._connection.stop()

    async def _consume(self, client: aiomqtt.Client, wake: asyncio.Event) -> None:
        messages = aiomqtt_messages(client)
        while not self._connection.stopping:
            try:
                message = await asyncio.wait_for(anext(messages), timeout=CONSUME_POLL_S)
            except TimeoutError:
                continue
            self.on_message(str(message.topic), bytes(message.payload))

    def on_message(self, topic: str, payload: bytes) -> None:
        levels = topic.split("/")
        if len(levels) < 3:
            return
        symbol, level = levels[-2], levels[-1]
        try:
            body = json.loads(payload)
            bid, ask = Decimal(body["bid"]), Decimal(body["ask"])
        except (ValueError, KeyError, InvalidOperation, TypeError):
            log.warning("mqtt_feed_bad_message", topic=topic)
            return
        if not (bid.is_finite() and ask.is_finite() and 0 < bid <= ask):
            return  # not a market (NaN would even raise on comparison): never a reference
        if symbol not in self._symbols:
            if len(self._symbols) >= MAX_SYMBOLS:
                return
            self._symbols.add(symbol)
        now = self._clock.now()
        if level == NBBO_LEVEL:
            self._primary.update(symbol, bid, ask, now)
            return
        quotes = self._venue_quotes.setdefault(symbol, {})
        if level not in quotes and len(quotes) >= MAX_VENUES_PER_SYMBOL:
            return
        quotes[level] = (bid, ask)
        best_bid, best_ask = max(q[0] for q in quotes.values()), min(q[1] for q in quotes.values())
        if best_bid <= best_ask:
            self._fallback.update(symbol, best_bid, best_ask, now)


def aiomqtt_messages(client: aiomqtt.Client) -> AsyncIterator[aiomqtt.Message]:
    return client.messages.__aiter__()
