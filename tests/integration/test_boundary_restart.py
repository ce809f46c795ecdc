"""A QuoteReqID used before a restart is still a duplicate after it (issue 8): the engine
asks SQL about ids it no longer holds in memory."""
from __future__ import annotations

import pytest

from tests.integration.conftest import raw_session, start_stack, wait_until
from tests.integration.test_boundary_messages import answers_to, quote_request

pytestmark = pytest.mark.fix


def test_a_quote_request_id_reused_after_a_restart_is_a_duplicate(tmp_path):
    first = start_stack(tmp_path, with_broker=False)
    try:
        session = raw_session(first, "REQ1")
        session.send("R", quote_request("before-restart"))
        # Closing with the Logon answer unread resets the connection, which may drop the R in flight.
        wait_until(lambda: first.stack.engine.book.rfq_by_client_id("REQ1", "before-restart") is not None,
                   timeout_s=30, what="the RFQ recorded before the restart")
        session.close()
    finally:
        first.close()
    second = start_stack(tmp_path, with_broker=False)
    try:
        session = raw_session(second, "REQ1")
        seq = session.send("R", quote_request("before-restart"))
        [reject] = answers_to(session, seq, b"before-restart")
        assert reject.get(35) == b"AG" and b"duplicate id" in reject.get(58)
        session.close()
    finally:
        second.close()
