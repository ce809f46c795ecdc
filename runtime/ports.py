"""Picking a free loopback port to listen on later.

A port picked now and bound later (QuickFIX's private port is bound when the stack starts; a
test's gateway port when its stack is built) must not be one the kernel may hand to an outgoing
connection meanwhile: a port inside the ephemeral range can be taken by any connect() in between
(a database, MQTT, another test's client), and the later bind fails "Address already in use"
(seen here: the gateway's restart in tests/integration/test_sessions_recovery.py). So ports are
picked below the ephemeral range, where only an explicit bind can take them.
"""
from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL_LOW = 32768  # Linux's default when the range cannot be read
LOWEST_PICKED_PORT = 20000  # clear of well-known and registered services most machines run
PORT_PICKS = 64  # attempts before giving up: a bound on the search, not an expectation


def ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return DEFAULT_EPHEMERAL_LOW


def free_port(host: str = "127.0.0.1", exclude: frozenset[int] = frozenset()) -> int:
    """A port nobody listens on or connects from now, below the ephemeral range, none of `exclude`."""
    high = ephemeral_low() - 1
    if high <= LOWEST_PICKED_PORT:  # an unusual range: fall back to what the kernel offers
        return _kernel_port(host, exclude)
    for _ in range(PORT_PICKS):
        port = random.randint(LOWEST_PICKED_PORT, high)
        if port not in exclude and _bindable(host, port):
            return port
    raise RuntimeError(f"no free port in {LOWEST_PICKED_PORT}..{high} after {PORT_PICKS} tries")


def _bindable(host: str, port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _kernel_port(host: str, exclude: frozenset[int]) -> int:
    for _ in range(PORT_PICKS):
        with socket.socket() as probe:
            probe.bind((host, 0))
            port = int(probe.getsockname()[1])
        if port not in exclude:
            return port
    raise RuntimeError(f"no free port outside {sorted(exclude)} in {PORT_PICKS} tries")
