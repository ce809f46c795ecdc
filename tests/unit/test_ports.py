"""Ports picked now and bound later come from below the ephemeral range (runtime/ports.py)."""
from __future__ import annotations

import socket

import pytest

from runtime import ports


def test_a_picked_port_is_below_the_ephemeral_range_and_can_be_listened_on():
    low = ports.ephemeral_low()
    for _ in range(20):
        port = ports.free_port()
        assert ports.LOWEST_PICKED_PORT <= port < low
        with socket.socket() as listener:
            listener.bind(("127.0.0.1", port))
            listener.listen()


def test_a_port_in_use_or_excluded_is_never_picked(monkeypatch):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        taken = holder.getsockname()[1]
        offered = iter([taken, 40001, 40002])
        monkeypatch.setattr(ports, "ephemeral_low", lambda: 60000)
        monkeypatch.setattr(ports.random, "randint", lambda low, high: next(offered))
        assert ports.free_port(exclude=frozenset({40001})) == 40002


def test_the_search_is_bounded(monkeypatch):
    monkeypatch.setattr(ports, "_bindable", lambda host, port: False)
    with pytest.raises(RuntimeError, match="no free port"):
        ports.free_port()
