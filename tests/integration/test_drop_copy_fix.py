"""Drop copy over real FIX sessions (README "Drop copy"): a read-only session receives a copy of
every ExecutionReport sent to a requester and of every fill settled with a solver; what was made
while it was away arrives by resend when it logs on again; anything it sends is refused (35=j)."""
from __future__ import annotations

from decimal import Decimal

import pytest

from tests.integration.conftest import start_stack, wait_until
from transport.fix import tags as t
from transport.fix.client import FixClient, Received

pytestmark = pytest.mark.fix
DROP = "DROPCOPY"
PARTY_ID, PARTY_ROLE, COPY_MSG_INDICATOR = 448, 452, 797


def _filled_rfq(requester: FixClient, solver: FixClient, req_id: str, exec_id: str) -> None:
    """An RFQ from REQ1 for 10 AAPL, quoted by SOLVER1, accepted and filled at 228.00."""
    requester.send("R", [(t.QUOTE_REQ_ID, req_id)], groups=[
        (t.NO_RELATED_SYM, t.SYMBOL, [(t.SYMBOL, "AAPL"), (t.SIDE, "1"), (t.ORDER_QTY, 10)])])
    forwarded = solver.wait_for(lambda m: m.msg_type == "R")
    solver.send("S", [(t.QUOTE_REQ_ID, forwarded[t.QUOTE_REQ_ID]), (t.QUOTE_ID, f"s-{req_id}"), (t.SYMBOL, "AAPL"),
                      (t.BID_PX, Decimal("227.00")), (t.OFFER_PX, Decimal("228.00"))])
    shown = requester.wait_for(lambda m: m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == req_id)
    requester.send("AJ", [(t.QUOTE_RESP_ID, f"a-{req_id}"), (t.QUOTE_ID, shown[t.QUOTE_ID]), (t.QUOTE_RESP_TYPE, 1),
                          (t.SYMBOL, "AAPL")])
    accepted = solver.wait_for(lambda m: m.msg_type == "AJ")
    solver.send("8", [(t.ORDER_ID, exec_id), (t.QUOTE_RESP_ID, accepted[t.QUOTE_RESP_ID]), (t.EXEC_ID, exec_id),
                      (t.EXEC_TYPE, "F"), (t.ORD_STATUS, "2"), (t.SYMBOL, "AAPL"), (t.SIDE, "2"),
                      (t.LAST_QTY, 10), (t.LAST_PX, Decimal("228.00")), (t.LEAVES_QTY, 0), (t.CUM_QTY, 10),
                      (t.AVG_PX, Decimal("228.00"))])
    requester.wait_for(lambda m: m.msg_type == "8" and m.get(t.CL_ORD_ID) == f"a-{req_id}"
                       and m.get(t.EXEC_TYPE) == "F")
    solver.wait_for(lambda m: m.msg_type == "BN" and m.get(t.EXEC_ID) == exec_id)


def _copies(drop: FixClient, order_id: str, expected: int) -> list[Received]:
    """The `expected` copies about one RFQ (OrderID rfq-N), in arrival order."""
    return [drop.wait_for(lambda m: m.msg_type == "8" and m.get(t.ORDER_ID) == order_id) for _ in range(expected)]


def _summary(copy: Received) -> tuple[str | None, ...]:
    return (copy.get(PARTY_ID), copy.get(PARTY_ROLE), copy.get(t.EXEC_TYPE), copy.get(t.SIDE), copy.get(t.EXEC_ID))


def test_drop_copy_receives_every_report_live_and_by_resend_after_a_disconnect(tmp_path):
    running = start_stack(tmp_path, with_broker=False)
    try:
        requester, solver, drop = running.connect("REQ1"), running.connect("SOLVER1"), running.connect(DROP)
        _filled_rfq(requester, solver, "dc-1", "x-1")
        live = _copies(drop, "rfq-1", 3)
        assert [_summary(copy) for copy in live] == [
            ("REQ1", "3", "0", "1", "1-new"),  # the requester's New (funds locked)
            ("REQ1", "3", "F", "1", "1-fill"),  # the requester's Fill
            ("SOLVER1", "35", "F", "2", "x-1"),  # the fill settled with the solver, on its side
        ]
        assert all(copy.get(COPY_MSG_INDICATOR) == "Y" for copy in live)
        assert live[1][t.LAST_QTY] == "10" and Decimal(live[1][t.LAST_PX]) == Decimal("228.00")

        # Read-only: an application message from the drop-copy session is refused with a 35=j.
        drop.send("H", [(t.CL_ORD_ID, "a-dc-1"), (t.SYMBOL, "AAPL"), (t.SIDE, "1")])
        refused = drop.wait_for(lambda m: m.msg_type == "j")
        assert refused.get(372) == "H" and refused.get(380) == "6" and "read-only" in refused[t.TEXT]

        drop.stop()
        wait_until(lambda: DROP not in running.stack.engine.book.logged_on, what="the drop copy gone")
        _filled_rfq(requester, solver, "dc-2", "x-2")
        running.settle()
        back = running.connect(DROP)  # the same store: sequence numbers kept, the gap is resent
        missed = _copies(back, "rfq-2", 3)
        assert [_summary(copy) for copy in missed] == [
            ("REQ1", "3", "0", "1", "2-new"), ("REQ1", "3", "F", "1", "2-fill"), ("SOLVER1", "35", "F", "2", "x-2")]
        assert all(copy.get(43) == "Y" for copy in missed)  # PossDupFlag: delivered by resend
        assert not [m for m in back.received() if m.msg_type == "8" and m.get(t.ORDER_ID) == "rfq-1"]
    finally:
        running.close()
