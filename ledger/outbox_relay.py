"""Publishes committed domain events from the SQL outbox to MQTT (aiomqtt).

Events are written in the same transaction as the state change; this relay
publishes them afterwards and stamps them published, so delivery is
at-least-once (consumers deduplicate by the event id in the payload).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import aiomqtt
import structlog

from core.clock import Now, utc_now
from ledger.uow import DomainEventRecord, SqlUnitOfWork
from transport.mqtt import MqttConnection, pause

log = structlog.get_logger(__name__)

BATCH_LIMIT = 200
IDLE_POLL_S = 0.1
TOPIC_PREFIX = "rfq/events"


def event_message(record: DomainEventRecord, topic_prefix: str = TOPIC_PREFIX) -> tuple[str, bytes]:
    topic = f"{topic_prefix}/{record.event_type}"
    body = {"id": record.id, "rfq_id": record.rfq_id, "type": record.event_type,
            "occurred_at": record.occurred_at.isoformat(), "payload": record.payload}
    return topic, json.dumps(body, sort_keys=True).encode()


class OutboxRelay:
    def __init__(self, mqtt_url: str, uow_factory: Callable[[], SqlUnitOfWork], topic_prefix: str = TOPIC_PREFIX,
                 now: Now = utc_now) -> None:
        self._topic_prefix = topic_prefix
        self._uow_factory = uow_factory
        self._now = now
        self._connection = MqttConnection(mqtt_url, "outbox-relay", self._relay)
        self.published = 0

    def start(self) -> None:
        self._connection.start()

    def stop(self) -> None:
        self._connection.stop()

    async def _relay(self, client: aiomqtt.Client, wake: asyncio.Event) -> None:
        while not self._connection.stopping:
            sent = await self._publish_batch(client)
            if sent == 0:
                await pause(IDLE_POLL_S, wake)
        await self._publish_batch(client)  # flush what was committed before the stop

    async def _publish_batch(self, client: aiomqtt.Client) -> int:
        with self._uow_factory() as uow:
            records = uow.unpublished_events(BATCH_LIMIT)
            for record in records:
                topic, payload = event_message(record, self._topic_prefix)
                await client.publish(topic, payload, qos=1)
            if records:
                uow.mark_published([record.id for record in records], self._now())
                uow.commit()
                self.published += len(records)
        return len(records)
