"""Admission at the FIX boundary: token buckets, the flood budget, fair per-session queues."""
from __future__ import annotations

import pytest

from gateway.fix.intake import Admission, IntakeGuard, IntakeLimits
from runtime.fair_queue import FairQueue, LaneFull
from runtime.rate_limit import TokenBucket


class ManualClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_a_token_bucket_allows_its_burst_then_its_rate():
    bucket = TokenBucket(rate_per_s=10, burst=5, now_s=0.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(0.1) and not bucket.take(0.1)  # one token per 0.1 s
    assert bucket.available(10.0) == 5  # never more than the burst


def test_a_token_bucket_refuses_nonsense_limits():
    with pytest.raises(ValueError):
        TokenBucket(rate_per_s=0, burst=1, now_s=0.0)


def test_intake_throttles_beyond_the_burst_then_admits_at_the_rate():
    clock = ManualClock()
    limits = IntakeLimits(messages_per_s=100, burst=10, queue_limit=50)
    guard = IntakeGuard(lambda session: limits, clock)
    assert [guard.admit("REQ1") for _ in range(10)] == [Admission.ADMITTED] * 10
    outcomes = []
    for _ in range(400):  # 400 messages in 1 s at a limit of 100/s
        clock.now_s += 0.0025
        outcomes.append(guard.admit("REQ1"))
    assert 95 <= outcomes.count(Admission.ADMITTED) <= 105
    assert guard.admit("REQ2") is Admission.ADMITTED  # another session is untouched
    guard.reset("REQ1")
    assert guard.admit("REQ1") is Admission.ADMITTED  # a new logon starts afresh


def test_a_session_at_its_rate_is_never_throttled():
    clock = ManualClock()
    guard = IntakeGuard(lambda session: IntakeLimits(100, 10, 50), clock)
    for _ in range(1000):
        clock.now_s += 0.011
        assert guard.admit("REQ1") is Admission.ADMITTED


def test_the_relay_flood_budget_empties_at_twice_the_rate_for_the_window():
    from gateway.fix.screen_relay import RelayLimits

    budget = RelayLimits(max_message_bytes=8192, messages_per_s=100, flood_window_s=1.0).flood_budget(0.0)
    sent, now_s = 0, 0.0
    while budget.take(now_s):  # 400 messages/s: the excess over 200/s empties 200 tokens in 1 s
        sent += 1
        now_s += 0.0025
    assert 0.9 <= now_s <= 1.1
    steady = RelayLimits(max_message_bytes=8192, messages_per_s=100, flood_window_s=1.0).flood_budget(0.0)
    assert all(steady.take(index * 0.006) for index in range(2000))  # ~167/s for 12 s: never a flood


def test_fair_queue_serves_lanes_round_robin():
    queue = FairQueue(lane_limit=1000, total_limit=10000)
    for index in range(100):
        queue.put("FLOOD", ("flood", index))
    queue.put("QUIET", ("quiet", 0))
    order = [queue.get(0.0) for _ in range(3)]
    assert order == [("flood", 0), ("quiet", 0), ("flood", 1)]


def test_fair_queue_bounds_each_lane_and_the_total():
    queue = FairQueue(lane_limit=2, total_limit=3)
    queue.put("A", 1)
    queue.put("A", 2)
    with pytest.raises(LaneFull):
        queue.put("A", 3)
    queue.put("B", 1)
    with pytest.raises(LaneFull):
        queue.put("C", 1)  # the total is reached
    queue.put("C", 1, force=True)  # control items are never refused
    assert len(queue) == 4
    assert queue.drain(10) == [1, 1, 1, 2]
    with pytest.raises(TimeoutError):
        queue.get(0.0)
