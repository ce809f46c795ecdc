"""The venue session after a crash: a trade report QuickFIX had counted but the connector never
committed is asked for again. Each fill is committed with its report's MsgSeqNum
(broker_venue_progress); at start the venue session resumes right after the last one, so the
venue resends everything since (PossDupFlag=Y). Reports processed before are harmless again:
fills are deduplicated by the venue's ExecID and order state changes that already happened are
refused without effect. Runs after QuickFIX created its sessions, before it connects.
"""
from __future__ import annotations

import quickfix as fix
import structlog

log = structlog.get_logger(__name__)

MAX_REWIND_MESSAGES = 10_000  # bound the resend a restart asks for (a day's reports are far fewer)


def resume_venue_session(venue_session: fix.SessionID, last_trade_seq: int | None) -> tuple[int, int] | None:
    """Rewind the venue session's next expected MsgSeqNum to just after the last committed trade
    report; returns (QuickFIX's count, where it resumes) when it moved. Never moves forward: a
    count below the record means the sequence numbers started again (the daily roll)."""
    session = fix.Session.lookupSession(venue_session)
    if session is None or last_trade_seq is None:
        return None
    counted = int(session.getExpectedTargetNum())
    resume_at = max(last_trade_seq + 1, counted - MAX_REWIND_MESSAGES, 1)
    if resume_at >= counted:
        return None
    session.setNextTargetMsgSeqNum(resume_at)
    log.info("venue_sequence_resumed", quickfix_counted=counted, resume_at=resume_at)
    return counted, resume_at
