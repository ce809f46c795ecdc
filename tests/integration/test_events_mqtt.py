"""Domain events recorded with each state change reach a real Mosquitto broker."""
from __future__ import annotations

import json
import secrets
import threading
from decimal import Decimal

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import func, select

from ledger.models import OutboxRow
from tests.integration.conftest import start_stack, wait_until
from transport.fix import tags as t

pytestmark = [pytest.mark.mqtt, pytest.mark.fix]


class Subscriber:
    def __init__(self, topic_filter: str) -> None:
        self.messages: list[tuple[str, dict]] = []
        self._lock = threading.Lock()
        self._subscribed = threading.Event()
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self._client.on_connect = lambda client, *_: client.subscribe(topic_filter, qos=1)
        self._client.on_subscribe = lambda *_: self._subscribed.set()
        self._client.on_message = self._on_message
        self._client.connect("127.0.0.1", 1883)
        self._client.loop_start()
        assert self._subscribed.wait(10), "could not subscribe on Mosquitto at 127.0.0.1:1883"

    def _on_message(self, client, userdata, message) -> None:
        with self._lock:
            self.messages.append((message.topic, json.loads(message.payload)))

    def rfq_messages(self) -> list[tuple[str, dict]]:
        with self._lock:
            return [(topic, body) for topic, body in self.messages if body["rfq_id"] is not None]

    def types(self) -> list[str]:
        return [body["type"] for _, body in self.rfq_messages()]

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def test_events_of_a_filled_rfq_arrive_on_mosquitto(tmp_path):
    prefix = f"test-{secrets.token_hex(4)}/rfq/events"
    subscriber = Subscriber(f"{prefix}/#")
    running = start_stack(tmp_path, mqtt_url="mqtt://127.0.0.1:1883", with_broker=False, mqtt_topic_prefix=prefix)
    try:
        req, solver = running.connect("REQ1"), running.connect("SOLVER1")
        req.send("R", [(t.QUOTE_REQ_ID, "ev-1")], groups=[(t.NO_RELATED_SYM, t.SYMBOL, [
            (t.SYMBOL, "AAPL"), (t.SIDE, "1"), (t.ORDER_QTY, 2)])])
        request = solver.wait_for(lambda m: m.msg_type == "R")
        solver.send("S", [(t.QUOTE_REQ_ID, request[t.QUOTE_REQ_ID]), (t.QUOTE_ID, "s-ev"), (t.SYMBOL, "AAPL"),
                          (t.OFFER_PX, Decimal("230.00"))])
        shown = req.wait_for(lambda m: m.msg_type == "S")
        req.send("AJ", [(t.QUOTE_RESP_ID, "acc-ev"), (t.QUOTE_ID, shown[t.QUOTE_ID]), (t.QUOTE_RESP_TYPE, 1),
                        (t.SYMBOL, "AAPL")])
        won = solver.wait_for(lambda m: m.msg_type == "AJ")
        solver.send("8", [(t.ORDER_ID, "o-ev"), (t.QUOTE_RESP_ID, won[t.QUOTE_RESP_ID]), (t.EXEC_ID, "x-ev"),
                          (t.EXEC_TYPE, "F"), (t.ORD_STATUS, "2"), (t.SYMBOL, "AAPL"), (t.SIDE, "1"),
                          (t.LAST_QTY, 2), (t.LAST_PX, Decimal("229.995")), (t.LEAVES_QTY, 0), (t.CUM_QTY, 2),
                          (t.AVG_PX, Decimal("229.995"))])
        req.wait_for(lambda m: m.msg_type == "8" and m.get(t.EXEC_TYPE) == "F")
        expected = ["RfqCreated", "QuoteReceived", "QuoteAccepted", "RfqFilled", "RfqSettled"]
        wait_until(lambda: subscriber.types() == expected, what=f"events {expected}")
        topics = [topic for topic, _ in subscriber.rfq_messages()]
        assert topics == [f"{prefix}/{name}" for name in expected]
        bodies = [body for _, body in subscriber.rfq_messages()]
        session_events = [body for _, body in subscriber.messages if body["type"] == "SessionLoggedOn"]
        assert {body["payload"]["session"] for body in session_events} >= {"REQ1", "SOLVER1"}
        assert {body["rfq_id"] for body in bodies} == {1}
        assert bodies[3]["payload"]["price"] == "229.995" and bodies[3]["payload"]["quantity"] == "2"
        assert bodies[4]["payload"]["cash_amount"] == "459.99"  # 2 x 229.995 = 459.99, to the cent
        with running.stack.uow() as uow:
            unpublished = uow.session.scalar(select(func.count(OutboxRow.id))
                                             .where(OutboxRow.published_at.is_(None)))
        assert unpublished == 0
    finally:
        subscriber.close()
        running.close()
