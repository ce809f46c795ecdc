"""MQTT plumbing shared by every publisher and subscriber: one aiomqtt client on its own thread
that reconnects with bounded exponential backoff.

A user supplies a session coroutine: it runs while the connection is up (publishing, or
reading `client.messages` after the topics were subscribed) and returns when `stop` is set.
A dropped connection raises aiomqtt.MqttError in it; the connection is then made again after
the backoff, and the session starts afresh. Publishers that subscribe to nothing get a watcher
that notices a drop at once rather than at the next publish.
"""
from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Sequence
from typing import Any
from urllib.parse import urlparse

import aiomqtt
import structlog

log = structlog.get_logger(__name__)

INITIAL_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0  # a broker that is down is retried at least this often
CONNECT_TIMEOUT_S = 5.0
STOP_TIMEOUT_S = 10.0

Session = Callable[[aiomqtt.Client, asyncio.Event], Coroutine[Any, Any, None]]


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    parsed = urlparse(url)
    if parsed.scheme not in ("mqtt", "tcp"):
        raise ValueError(f"MQTT_URL must look like mqtt://host:1883, got {url!r}")
    return parsed.hostname or "127.0.0.1", parsed.port or 1883, parsed.username, parsed.password


class MqttConnection:
    def __init__(self, url: str, name: str, session: Session, subscriptions: Sequence[str] = ()) -> None:
        self._host, self._port, self._username, self._password = parse_mqtt_url(url)
        self._name = name
        self._session = session
        self._subscriptions = tuple(subscriptions)
        self._stopping = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), name=name, daemon=True)
        self.connected = threading.Event()  # set while connected, as far as the client knows
        self.connections = 0  # successful connects so far (reconnects included)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self.wake()
        self._thread.join(STOP_TIMEOUT_S)
        if self._thread.is_alive():
            log.warning("mqtt_stop_timed_out", connection=self._name, timeout_s=STOP_TIMEOUT_S)

    def wake(self) -> None:
        """Thread-safe: set the session's `stop`/wake event so a waiting session looks again."""
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return
        try:
            loop.call_soon_threadsafe(wake.set)
        except RuntimeError:
            pass  # the loop has already closed (stopping)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        backoff_s = INITIAL_BACKOFF_S
        while not self._stopping.is_set():
            try:
                async with aiomqtt.Client(self._host, self._port, username=self._username, password=self._password,
                                          identifier=None, timeout=CONNECT_TIMEOUT_S) as client:
                    backoff_s = INITIAL_BACKOFF_S
                    await self._serve(client, wake)
            except (aiomqtt.MqttError, OSError) as error:
                log.warning("mqtt_unavailable", connection=self._name, error=str(error), retry_in_s=backoff_s)
            except Exception:  # noqa: BLE001 - the connection must survive one bad message
                log.exception("mqtt_session_failed", connection=self._name, retry_in_s=backoff_s)
            finally:
                self.connected.clear()
            if not self._stopping.is_set():
                await self._back_off(backoff_s, wake)
                backoff_s = min(backoff_s * 2, MAX_BACKOFF_S)

    async def _serve(self, client: aiomqtt.Client, wake: asyncio.Event) -> None:
        for topic in self._subscriptions:
            await client.subscribe(topic)
        self.connections += 1
        self.connected.set()
        log.info("mqtt_connected", connection=self._name, host=self._host, port=self._port)
        session: asyncio.Task[None] = asyncio.create_task(self._session(client, wake))
        tasks: set[asyncio.Task[None]] = {session}
        if not self._subscriptions:
            tasks.add(asyncio.create_task(_watch_connection(client)))
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        for task in done:
            task.result()  # re-raises the MqttError of a dropped connection

    async def _back_off(self, delay_s: float, wake: asyncio.Event) -> None:
        """Wait out the reconnect delay; only stop() cuts it short."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + delay_s
        while not self._stopping.is_set() and (remaining_s := deadline - loop.time()) > 0:
            wake.clear()
            await pause(remaining_s, wake)


async def _watch_connection(client: aiomqtt.Client) -> None:
    # Nothing is subscribed, so the iteration only ends by raising MqttError on a disconnect.
    async for _message in client.messages:
        pass
    raise aiomqtt.MqttError("connection watch ended")


async def pause(timeout_s: float, wake: asyncio.Event) -> None:
    """Sleep up to `timeout_s`, or less if `wake` is set."""
    try:
        await asyncio.wait_for(wake.wait(), timeout_s)
    except TimeoutError:
        pass
