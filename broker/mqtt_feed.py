"""Reference prices from the venue's market data on MQTT, for a connector running in
its own process: the primary feed takes the published NBBO (md/{symbol}/nbbo); the
fallback builds its own best bid/offer from the per-exchange quotes (md/{symbol}/{venue}).
A quote is stamped when it is received, so staleness measures silence."""
from __future__ import annotations

import asyncio
import json
import threading
from decimal import Decimal, InvalidOperation

import aiomqtt
import structlog

from broker.feeds import PriceFeed
from core.clock import Clock
from transport.mqtt import parse_mqtt_url

log = structlog.get_logger(__name__)

MAX_BACKOFF_S = 5.0
NBBO_LEVEL = "nbbo"


class MqttMarketFeed:
    def __init__(self, mqtt_url: str, topic_prefix: str, primary: PriceFeed, fallback: PriceFeed,
                 clock: Clock) -> None:
        self._host, self._port, self._username, self._password = parse_mqtt_url(mqtt_url)
        self._prefix, self._primary, self._fallback, self._clock = topic_prefix, primary, fallback, clock
        self._venue_quotes: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="mqtt-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(3)

    async def _run(self) -> None:
        backoff_s = 0.2
        while not self._stop.is_set():
            try:
                async with aiomqtt.Client(self._host, self._port, username=self._username,
                                          password=self._password) as client:
                    await client.subscribe(f"{self._prefix}/+/+", qos=0)
                    backoff_s = 0.2
                    await self._consume(client)
            except aiomqtt.MqttError as error:
                log.warning("mqtt_feed_unavailable", error=str(error), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)

    async def _consume(self, client: aiomqtt.Client) -> None:
        messages = aiomqtt_messages(client)
        while not self._stop.is_set():
            try:
                message = await asyncio.wait_for(anext(messages), timeout=0.5)
            except asyncio.TimeoutError:
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
        if not (0 < bid <= ask):
            return
        now = self._clock.now()
        if level == NBBO_LEVEL:
            self._primary.update(symbol, bid, ask, now)
            return
        quotes = self._venue_quotes.setdefault(symbol, {})
        quotes[level] = (bid, ask)
        best_bid, best_ask = max(q[0] for q in quotes.values()), min(q[1] for q in quotes.values())
        if best_bid <= best_ask:
            self._fallback.update(symbol, best_bid, best_ask, now)


def aiomqtt_messages(client: aiomqtt.Client):
    return client.messages.__aiter__()
