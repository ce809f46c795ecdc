"""Admission of inbound application messages, per session, on QuickFIX's threads.

Each session has a message budget (a token bucket: `messages_per_s`, `burst`). A
message beyond it is refused at once with a "throttled" reject, as is one whose
session already has `queue_limit` messages waiting for the engine. (A flood that does
not stop is logged out by the logon screen's relay, which sees every message, also
those QuickFIX rejects itself.) Nothing here blocks, touches SQL or waits for the engine.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from runtime.rate_limit import TokenBucket


@dataclass(frozen=True)
class IntakeLimits:
    messages_per_s: float
    burst: int
    queue_limit: int  # messages of this session waiting for the engine

    def __post_init__(self) -> None:
        if self.messages_per_s <= 0 or self.burst < 1 or self.queue_limit < 1:
            raise ValueError(f"invalid intake limits {self}")


class Admission(Enum):
    ADMITTED = "admitted"
    THROTTLED = "throttled"  # refuse this message


class _SessionBudget:
    def __init__(self, limits: IntakeLimits, now_s: float) -> None:
        self.limits = limits
        self.messages = TokenBucket(limits.messages_per_s, limits.burst, now_s)


class IntakeGuard:
    def __init__(self, limits_of: Callable[[str], IntakeLimits], monotonic_s: Callable[[], float] = time.monotonic
                 ) -> None:
        self._limits_of = limits_of
        self._now_s = monotonic_s
        self._budgets: dict[str, _SessionBudget] = {}
        self._lock = threading.Lock()

    def limits(self, session: str) -> IntakeLimits:
        return self._budget(session).limits

    def admit(self, session: str) -> Admission:
        budget = self._budget(session)
        now_s = self._now_s()
        return Admission.ADMITTED if budget.messages.take(now_s) else Admission.THROTTLED

    def reset(self, session: str) -> None:
        """A new logon starts with full budgets."""
        with self._lock:
            self._budgets.pop(session, None)

    def _budget(self, session: str) -> _SessionBudget:
        with self._lock:
            budget = self._budgets.get(session)
            if budget is None:
                budget = self._budgets[session] = _SessionBudget(self._limits_of(session), self._now_s())
            return budget
