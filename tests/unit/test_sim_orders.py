"""Venue order lifecycle table and average price arithmetic (broker_sim.orders)."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from core.state_machine import InvalidTransition
from venue_sim.orders import TRANSITIONS, BookOrder, OrderState, Trigger, apply, average_price

D = Decimal
NOW = datetime(2025, 3, 14, 14, 42, tzinfo=timezone.utc)


def test_done_states_accept_no_trigger():
    for state in (OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED):
        for trigger in Trigger:
            with pytest.raises(InvalidTransition):
                apply(state, trigger)


def test_only_a_pending_order_can_be_accepted_or_rejected():
    assert apply(OrderState.PENDING_NEW, Trigger.ACCEPT) is OrderState.NEW
    assert apply(OrderState.PENDING_NEW, Trigger.REJECT) is OrderState.REJECTED
    with pytest.raises(InvalidTransition):
        apply(OrderState.NEW, Trigger.ACCEPT)
    with pytest.raises(InvalidTransition):
        apply(OrderState.PENDING_NEW, Trigger.FILL)
    assert all(source not in (OrderState.FILLED, OrderState.CANCELED) for source, _ in TRANSITIONS)


def test_fills_drive_the_order_to_filled_and_overfill_is_refused():
    order = BookOrder("o", "c1", "O1", "AAPL", "buy", D(300), D("10.05"), "day", NOW)
    order.apply(Trigger.ACCEPT)
    order.record_fill(D("10.00"), D(100))
    assert order.state is OrderState.PARTIALLY_FILLED and order.leaves_qty == D(200)
    with pytest.raises(AssertionError):
        order.record_fill(D("10.00"), D(201))
    order.record_fill(D("10.01"), D(200))
    assert order.state is OrderState.FILLED and order.leaves_qty == D(0)
    assert order.avg_px == D("10.006667")


def test_average_price_rounds_half_even_at_six_decimals():
    assert average_price(D("20.000001"), D(2)) == D("10.000000")  # 10.0000005 -> even
    assert average_price(D("20.000003"), D(2)) == D("10.000002")  # 10.0000015 -> even
    assert average_price(D("227443.5"), D(1000)) == D("227.443500")
    assert average_price(D(0), D(0)) == D(0)
