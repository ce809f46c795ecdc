"""A token bucket: `rate_per_s` tokens a second, at most `burst` saved up.

Time comes in as monotonic seconds so tests drive it by hand."""
from __future__ import annotations

import threading


class TokenBucket:
    def __init__(self, rate_per_s: float, burst: float, now_s: float) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs rate_per_s > 0 and burst >= 1, got {rate_per_s}, {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._tokens = float(burst)
        self._updated_s = now_s
        self._lock = threading.Lock()  # a session can reconnect on a new QuickFIX thread

    def take(self, now_s: float, tokens: float = 1.0) -> bool:
        """Spend `tokens` if there are that many; False (and nothing spent) otherwise."""
        with self._lock:
            elapsed = max(0.0, now_s - self._updated_s)
            self._tokens = min(self.burst, self._tokens + elapsed * self.rate_per_s)
            self._updated_s = now_s
            if self._tokens < tokens:
                return False
            self._tokens -= tokens
            return True

    def available(self, now_s: float) -> float:
        with self._lock:
            elapsed = max(0.0, now_s - self._updated_s)
            return min(self.burst, self._tokens + elapsed * self.rate_per_s)
