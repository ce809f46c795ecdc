"""Who may open a connection to the public port and spend a credential check.

A credential check costs ~25 ms of scrypt on a 2-core host, and a held connection costs a
slot: both are what an unauthenticated peer can make us spend. Limits per source address
and overall keep one address from starving everyone's logons: at most
MAX_CONNECTIONS_PER_ADDRESS connections each, and an address whose logons keep failing is
refused at once (no scrypt) until its failed-logon budget refills.
Runs on the logon screen's event loop only (no locks).
"""
from __future__ import annotations

from collections import OrderedDict

from runtime.rate_limit import TokenBucket

MAX_CONNECTIONS = 256  # open connections on the public port, all addresses together
MAX_CONNECTIONS_PER_ADDRESS = 32  # a client normally holds one connection per session it runs
FAILED_LOGONS_PER_MINUTE = 20  # an address refilling its failed-logon budget at this rate
FAILED_LOGON_BURST = 20
MAX_TRACKED_ADDRESSES = 10_000  # failed-logon budgets kept; the least recently used go first


class ScreenAdmission:
    def __init__(self, max_connections: int = MAX_CONNECTIONS,
                 max_per_address: int = MAX_CONNECTIONS_PER_ADDRESS) -> None:
        self._max_connections = max_connections
        self._max_per_address = max_per_address
        self._open: dict[str, int] = {}
        self._open_total = 0
        self._failures: OrderedDict[str, TokenBucket] = OrderedDict()

    def admit_connection(self, address: str) -> bool:
        """Count a new connection in; False (and nothing counted) when a limit is reached."""
        if self._open_total >= self._max_connections or self._open.get(address, 0) >= self._max_per_address:
            return False
        self._open[address] = self._open.get(address, 0) + 1
        self._open_total += 1
        return True

    def connection_closed(self, address: str) -> None:
        remaining = self._open.get(address, 0) - 1
        assert remaining >= 0 and self._open_total > 0, f"closing a connection of {address} never admitted"
        self._open_total -= 1
        if remaining:
            self._open[address] = remaining
        else:
            del self._open[address]

    def may_check_credentials(self, address: str, now_s: float) -> bool:
        bucket = self._failures.get(address)
        return bucket is None or bucket.available(now_s) >= 1

    def credentials_failed(self, address: str, now_s: float) -> None:
        bucket = self._failures.get(address)
        if bucket is None:
            bucket = TokenBucket(FAILED_LOGONS_PER_MINUTE / 60, FAILED_LOGON_BURST, now_s)
            self._failures[address] = bucket
            while len(self._failures) > MAX_TRACKED_ADDRESSES:
                self._failures.popitem(last=False)
        self._failures.move_to_end(address)
        bucket.take(now_s)

    @property
    def open_connections(self) -> int:
        return self._open_total
