"""How the broker names an RFQ it quoted and won, and the ids it derives from that name.

The gateway's ids are opaque to the broker: it keys an RFQ by the QuoteReqID the gateway sent
(e.g. "rfq-7"), never parsing anything out of it, and builds its own ids by appending to it.
"""
from __future__ import annotations

from typing import NewType

RfqRef = NewType("RfqRef", str)  # the gateway's QuoteReqID of an RFQ the broker quoted: opaque

# Characters. ClOrdIDs are "<ref>-NNN" and are stored in venue_orders.cl_ord_id (64 characters), so a
# longer QuoteReqID could not be recorded before its order is sent: the broker declines to quote it.
MAX_RFQ_REF_LENGTH = 60
MAX_ATTEMPTS = 3  # ClOrdIDs <ref>-001 .. -003: a venue that keeps rejecting ends the RFQ instead of looping


def quote_id(quote_req_id: str) -> str:
    """The broker's QuoteID for its quote on `quote_req_id` (one live quote per request)."""
    return f"bq-{quote_req_id}"


def cl_ord_id(rfq: RfqRef, attempt: int) -> str:
    """The venue ClOrdID of an RFQ's `attempt`-th order: the same RFQ and attempt always give the same id,
    so a resend can never become a second order at the venue."""
    assert 1 <= attempt <= MAX_ATTEMPTS, f"attempt {attempt} is outside 1..{MAX_ATTEMPTS}"
    return f"{rfq}-{attempt:03d}"


def cancel_id(order_cl_ord_id: str) -> str:
    return f"{order_cl_ord_id}-cxl"


SETTLEMENT_EXEC_SUFFIX = "-exec"


def settlement_exec_id(rfq: RfqRef) -> str:
    """The ExecID of the one report that settles (or fails) the RFQ at the gateway: the same on every retry."""
    return f"{rfq}{SETTLEMENT_EXEC_SUFFIX}"
