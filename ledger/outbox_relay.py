"""Publishes committed domain events from the SQL outbox to MQTT (aiomqtt).

Events are written in the same transaction as the state change; this relay
publishes them afterwards and stamps them published, so delivery is
at-least-once (consumers deduplicate by the event id in the payload).
"""
from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from datetime import datetime, timezone

import aiomqtt
import structlog

from transport.mqtt import parse_mqtt_url

log = structlog.get_logger(__name__)

BATCH_LIMIT = 200
IDLE_POLL_S = 0.1
MAX_BACKOFF_S = 5.0
TOPIC_PREFIX = "rfq/events"


def event_message(record, topic_prefix: str = TOPIC_PREFIX) -> tuple[str, bytes]:
    topic = f"{topic_prefix}/{record.event_type}"
    body = {"id": record.id, "rfq_id": record.rfq_id, "type": record.event_type,
            "occurred_at": record.occurred_at.isoformat(), "payload": record.payload}
    return topic, json.dumps(body, sort_keys=True).encode()


class OutboxRelay:
    def __init__(self, mqtt_url: str, uow_factory: Callable[[], object], topic_prefix: str = TOPIC_PREFIX) -> None:
        self._host, self._port, self._username, self._password = parse_mqtt_url(mqtt_url)
        self._topic_prefix = topic_prefix
        self._uow_factory = uow_factory
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name="outbox-relay", daemon=True)
        self.published = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout_s)

    async def _run(self) -> None:
        backoff_s = 0.2
        while not self._stop.is_set():
            try:
                async with aiomqtt.Client(self._host, self._port, username=self._username,
                                          password=self._password, identifier=None) as client:
                    backoff_s = 0.2
                    await self._relay(client)
            except aiomqtt.MqttError as error:
                log.warning("mqtt_unavailable", error=str(error), retry_in_s=backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)

    async def _relay(self, client: aiomqtt.Client) -> None:
        while not self._stop.is_set():
            sent = await self._publish_batch(client)
            if sent == 0:
                await asyncio.sleep(IDLE_POLL_S)
        await self._publish_batch(client)  # flush what was committed before the stop

    async def _publish_batch(self, client: aiomqtt.Client) -> int:
        with self._uow_factory() as uow:
            records = uow.unpublished_events(BATCH_LIMIT)
            for record in records:
                topic, payload = event_message(record, self._topic_prefix)
                await client.publish(topic, payload, qos=1)
            if records:
                uow.mark_published([record.id for record in records], datetime.now(timezone.utc))
                uow.commit()
                self.published += len(records)
        return len(records)
