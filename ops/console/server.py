"""Serving the console (and /metrics) with uvicorn on a thread of its own, beside the gateway."""
from __future__ import annotations

import asyncio
import socket
import threading
import time

import structlog
import uvicorn
from starlette.applications import Starlette

log = structlog.get_logger(__name__)

START_TIMEOUT_S = 10.0
STOP_TIMEOUT_S = 5.0


class ConsoleServer:
    def __init__(self, app: Starlette, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self._socket = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, port))  # bound now: port 0 picks a free one, and a taken port fails here
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                timeout_graceful_shutdown=1, ws="none")
        self._server = uvicorn.Server(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="console", daemon=True)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    def _run(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._server.serve(sockets=[self._socket])

    def start(self) -> ConsoleServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the console did not start on {self.url}")
            time.sleep(0.02)
        log.info("console_started", url=self.url)
        return self

    def stop(self) -> None:
        console = getattr(self.app.state, "console", None)
        if console is not None and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(console.stopping.set)  # ends the event streams
            except RuntimeError:
                pass  # the loop is closed already
        self._server.should_exit = True
        self._thread.join(STOP_TIMEOUT_S)
        self._socket.close()
        log.info("console_stopped", url=self.url)
