"""Exactly-once intake at start: each session resumes at the first MsgSeqNum the engine has not
committed, so the counterparty resends what QuickFIX had counted but the engine never processed
(README "Sessions and recovery"). Runs after QuickFIX created its sessions, before the public
port opens."""
from __future__ import annotations

from collections.abc import Iterable, Mapping

import quickfix as fix
import structlog

from core.types import SessionName
from gateway.domain.progress import SessionProgress
from transport.fix.roll import CreatedAt
from transport.fix.settings_builder import session_id

log = structlog.get_logger(__name__)

FIRST_SEQ = 1


def resume_sequence_numbers(gateway_comp_id: str, comp_ids: Iterable[str],
                            progress: Mapping[SessionName, SessionProgress],
                            created_at: CreatedAt) -> dict[str, tuple[int, int]]:
    """Set each session's next expected MsgSeqNum from the engine's record; returns
    {comp_id: (what QuickFIX had counted, where it resumes)} for the sessions that moved."""
    moved: dict[str, tuple[int, int]] = {}
    for comp_id in comp_ids:
        sid = session_id(gateway_comp_id, comp_id)
        session = fix.Session.lookupSession(sid)
        if session is None:
            continue
        known = progress.get(SessionName(comp_id))
        counted = int(session.getExpectedTargetNum())
        if known is None or known.epoch != created_at(sid):
            # Nothing of this generation of sequence numbers was committed (progress is committed
            # with every batch that processed one of the session's messages): all of it again,
            # admin messages coming back as GapFills. A generation that counted only its Logon stays.
            resume_at = FIRST_SEQ if counted > FIRST_SEQ + 1 else counted
        else:
            resume_at = known.last_seq + 1
        if counted != resume_at:
            session.setNextTargetMsgSeqNum(resume_at)
            moved[comp_id] = (counted, resume_at)
            log.info("fix_sequence_resumed", session=comp_id, quickfix_counted=counted, resume_at=resume_at)
    return moved
