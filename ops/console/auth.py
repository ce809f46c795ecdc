"""Operator login for the console: one configured operator, server-side sessions behind a cookie.

The password is compared in constant time. A session is a random token (HttpOnly, SameSite=Strict
cookie) mapped in memory to the operator and a CSRF token that every form posts back. Sessions end
at logout, after `idle_s` without a request, or when the process stops.
"""
from __future__ import annotations

import hmac
import secrets
import threading
import time
from dataclasses import dataclass

COOKIE = "rfq_console"
MAX_SESSIONS = 1000


@dataclass(frozen=True)
class OperatorLogin:
    username: str
    password: str


@dataclass
class ConsoleSession:
    operator: str
    csrf: str
    last_seen: float
    flash: tuple[str, bool] | None = None  # (message, is an error): shown once on the next page


class SessionStore:
    def __init__(self, login: OperatorLogin, idle_s: float = 8 * 3600) -> None:
        self._login = login
        self._idle_s = idle_s
        self._sessions: dict[str, ConsoleSession] = {}
        self._lock = threading.Lock()

    def check(self, username: str, password: str) -> bool:
        user_ok = hmac.compare_digest(username.encode(), self._login.username.encode())
        password_ok = hmac.compare_digest(password.encode(), self._login.password.encode())
        return user_ok and password_ok and bool(self._login.password)

    def open(self, operator: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._expire()
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions, key=lambda key: self._sessions[key].last_seen)
                del self._sessions[oldest]
            self._sessions[token] = ConsoleSession(operator, secrets.token_urlsafe(16), time.monotonic())
        return token

    def get(self, token: str | None) -> ConsoleSession | None:
        if not token:
            return None
        with self._lock:
            session = self._sessions.get(token)
            if session is None or time.monotonic() - session.last_seen > self._idle_s:
                self._sessions.pop(token, None)
                return None
            session.last_seen = time.monotonic()
            return session

    def close(self, token: str | None) -> None:
        with self._lock:
            self._sessions.pop(token or "", None)

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, s in self._sessions.items() if now - s.last_seen > self._idle_s]:
            del self._sessions[token]


def csrf_ok(session: ConsoleSession, posted: str) -> bool:
    return hmac.compare_digest(session.csrf.encode(), posted.encode())
