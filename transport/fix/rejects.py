"""Session Reject (35=3) and BusinessMessageReject (35=j) for a message the boundary refuses
before it becomes a command. Built here (not by raising into QuickFIX) so the reject's Text
(58) can say exactly which tag was refused and why; QuickFIX's own rejects carry a generic text."""
from __future__ import annotations

import quickfix as fix

from transport.fix.writer import new_message, put

REF_SEQ_NUM = 45
REF_TAG_ID = 371
REF_MSG_TYPE = 372
SESSION_REJECT_REASON = 373
BUSINESS_REJECT_REF_ID = 379
BUSINESS_REJECT_REASON = 380
TEXT = 58
MAX_TEXT_CHARS = 200

# BusinessRejectReason (380)
BUSINESS_OTHER = 0
CONDITIONALLY_REQUIRED_FIELD_MISSING = 5


def ref_seq_num(message: fix.Message) -> int | None:
    header = message.getHeader()
    if not header.isSetField(34):
        return None
    raw = header.getField(34)
    return int(raw) if raw.isdigit() else None


def session_reject(message: fix.Message, msg_type: str, tag: int | None, reason: int, text: str) -> fix.Message:
    reject = new_message("3")
    put(reject, REF_SEQ_NUM, ref_seq_num(message) or 0)
    put(reject, REF_TAG_ID, tag)
    put(reject, REF_MSG_TYPE, msg_type)
    put(reject, SESSION_REJECT_REASON, reason)
    put(reject, TEXT, text[:MAX_TEXT_CHARS])
    return reject


def business_reject(message: fix.Message, msg_type: str, reason: int, text: str, ref_id: str | None = None
                    ) -> fix.Message:
    reject = new_message("j")
    put(reject, REF_SEQ_NUM, ref_seq_num(message))
    put(reject, REF_MSG_TYPE, msg_type)
    put(reject, BUSINESS_REJECT_REF_ID, ref_id)
    put(reject, BUSINESS_REJECT_REASON, reason)
    put(reject, TEXT, text[:MAX_TEXT_CHARS])
    return reject
