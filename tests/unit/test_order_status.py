"""OrderStatusRequest (H) after a missed fill report: the answer carries what the report did."""
from __future__ import annotations

from decimal import Decimal

from core.types import SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.commands import QueryOrder
from gateway.domain.rfq import RfqState
from gateway.fix.execution_codec import SECONDARY_EXEC_ID, encode_requester_report
from gateway.handlers.lifecycle import order_status
from tests import stubs
from transport.fix import tags as t

QUERY = QueryOrder(SessionName("REQ1"), "c1", "AAPL", Side.BUY)


def test_a_filled_rfq_status_carries_last_price_quantity_and_the_fill_exec_id() -> None:
    filled = stubs.rfq(state=RfqState.FILLED, filled_quantity=Decimal(7), average_price=Decimal("227.41"))
    report = order_status(QUERY, filled)
    assert (report.last_price, report.last_quantity, report.fill_exec_id) == (Decimal("227.41"), Decimal(7), "1-fill")
    message = encode_requester_report(report, stubs.T0)
    assert message.getField(t.LAST_PX) == "227.41" and message.getField(t.LAST_QTY) == "7"
    assert message.getField(SECONDARY_EXEC_ID) == out.fill_exec_id(1)


def test_an_unfilled_rfq_status_has_no_last_fill() -> None:
    report = order_status(QUERY, stubs.rfq())
    assert (report.last_price, report.last_quantity, report.fill_exec_id) == (None, None, None)
    assert not encode_requester_report(report, stubs.T0).isSetField(SECONDARY_EXEC_ID)
