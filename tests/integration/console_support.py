"""A running stack with its monitoring and operator console on a free port, and a tiny HTTP client."""
from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

from pydantic import SecretStr

from app.console import Monitoring, attach_monitoring, start_stack_console
from app.stack import Stack
from core.clock import FakeClock
from ops.console.server import ConsoleServer
from tests.integration.conftest import REGULAR_SESSION, RunningStack, stack_settings, wait_until

OPERATOR = "operator"
PASSWORD = "console-test-password"


@dataclass
class ConsoleStack:
    running: RunningStack
    monitoring: Monitoring
    console: ConsoleServer

    def close(self) -> None:
        self.console.stop()
        self.running.close()


def start_console_stack(tmp_path) -> ConsoleStack:
    clock = FakeClock(REGULAR_SESSION)
    settings = stack_settings(tmp_path)
    console_config = settings.console.model_copy(update={"port": 0, "username": OPERATOR, "password": SecretStr(PASSWORD),
                                                         "refresh_s": 0.5})
    settings = settings.model_copy(update={"console": console_config})
    stack = Stack(settings, clock=clock, with_broker=False)
    monitoring = attach_monitoring(stack)
    stack.start()
    running = RunningStack(stack, clock)
    try:
        console = start_stack_console(stack, monitoring)
    except Exception:
        running.close()
        raise
    return ConsoleStack(running, monitoring, console)


class Browserless:
    """urllib with a cookie jar and no redirect following (to see 303s)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kwargs):
                return None

        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies), NoRedirect)

    def request(self, path: str, form: dict[str, str] | None = None) -> tuple[int, dict[str, str], str]:
        data = urllib.parse.urlencode(form).encode() if form is not None else None
        try:
            with self._opener.open(self.base_url + path, data=data, timeout=5) as response:
                return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read().decode()

    def login(self, username: str = OPERATOR, password: str = PASSWORD) -> int:
        status, _, _ = self.request("/login", {"username": username, "password": password})
        return status


def wait_for(condition, what: str, timeout_s: float = 5.0) -> None:
    wait_until(condition, timeout_s=timeout_s, what=what)
