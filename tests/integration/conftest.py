"""A running stack (venue, gateway, broker connector) on free loopback ports,
with scripted FIX test clients, shared by the end-to-end tests of a module."""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from app.settings import Settings
from app.stack import Stack
from core.clock import FakeClock
from runtime.ports import free_port
from tests.rawfix import RawFixSession
from transport.fix.client import FixClient
from transport.fix.dictionary import DATA_DICTIONARY


def stack_settings(data_dir, database_url: str | None = None, mqtt_url: str | None = None,
                   mqtt_topic_prefix: str = "rfq/events") -> Settings:
    base = Settings()
    return base.model_copy(update={
        "data_dir": data_dir, "database_url": database_url, "mqtt_url": mqtt_url,
        "mqtt_topic_prefix": mqtt_topic_prefix,
        "gateway": base.gateway.model_copy(update={"port": free_port()}),
        "venue": base.venue.model_copy(update={"port": free_port(), "tick_interval_s": 0.0}),
    })


def wait_until(condition, timeout_s: float = 10.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.02)


class RunningStack:
    def __init__(self, stack: Stack, clock: FakeClock) -> None:
        self.stack = stack
        self.clock = clock
        self.clients: dict[str, FixClient] = {}

    def connect(self, comp_id: str) -> FixClient:
        gateway = self.stack.settings.gateway
        client = FixClient(comp_id, gateway.comp_id, gateway.host, gateway.port, self.stack.data_dir,
                           DATA_DICTIONARY, credentials=self.stack.credentials_of(comp_id)).start()
        self.clients[comp_id] = client
        wait_until(lambda: comp_id in self.stack.engine.book.logged_on, what=f"{comp_id} known to the engine")
        return client

    def balance(self, account: str, asset: str) -> tuple[Decimal, Decimal]:
        balance = self.stack.balance(account, asset)
        return balance.available, balance.locked

    def settle(self) -> None:
        """Let every queued message through the engine and the connector."""
        self.stack.worker.wait_idle()
        if self.stack.broker:
            self.stack.broker.worker.wait_idle()
        self.stack.worker.wait_idle()

    def close(self) -> None:
        for client in self.clients.values():
            client.stop()
        self.stack.stop()


# A regular-session moment (Friday 2026-11-20, 10:00 New York) so market-hours gating lets RFQs through
# whatever the hour the tests run at; tests move this clock by hand.
REGULAR_SESSION = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def start_stack(tmp_path, database_url: str | None = None, mqtt_url: str | None = None,
                with_broker: bool = True, mqtt_topic_prefix: str = "rfq/events",
                adjust: Callable[[Settings], Settings] | None = None) -> RunningStack:
    clock = FakeClock(REGULAR_SESSION)
    settings = stack_settings(tmp_path, database_url, mqtt_url, mqtt_topic_prefix)
    if adjust is not None:
        settings = adjust(settings)
    stack = Stack(settings, clock=clock, with_broker=with_broker)
    stack.start()
    running = RunningStack(stack, clock)
    if with_broker:
        wanted = {stack.settings.gateway.comp_id, stack.settings.venue.comp_id}
        wait_until(lambda: wanted <= stack.broker.application.logged_on, what="broker logon")
        wait_until(lambda: "BROKER" in stack.engine.book.logged_on, what="broker known to the engine")
    return running


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("stack"))
    for comp_id in ("REQ1", "SOLVER1", "SOLVER2"):
        running.connect(comp_id)
    yield running
    running.close()


def raw_session(running: RunningStack, comp_id: str) -> RawFixSession:
    """A bare-socket session of `comp_id`, logged on with its configured credentials."""
    session = RawFixSession(running.stack.settings.gateway.port, comp_id).connect()
    credentials = running.stack.credentials_of(comp_id)
    assert credentials is not None, f"{comp_id} has no configured password"
    answer = session.logon(credentials[0].encode(), credentials[1].encode())
    assert answer is not None and answer.get(35) == b"A", answer
    wait_until(lambda: comp_id in running.stack.engine.book.logged_on, what=f"{comp_id} logged on")
    return session
