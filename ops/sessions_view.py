"""The operator's view of the gateway's FIX sessions: role, logged on now, sequence numbers, last message.

Read without the gateway's help, so `admin sessions` (another process) and the console show the same:
- sequence numbers from QuickFIX's file store (`{data_dir}/fix/gateway/store/*.seqnums`: the next
  MsgSeqNum to send, then the next one expected), written by QuickFIX on every message;
- the last message time: when QuickFIX last wrote the session's message log;
- logged on now: from the running gateway when it is in this process (`live`), otherwise from the
  newest SessionLoggedOn/SessionLoggedOut event in the outbox (after a crash this can still say
  "yes" until the next start).
"""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from ledger.models import OutboxRow

LOGGED_ON = "SessionLoggedOn"
LOGGED_OUT = "SessionLoggedOut"
MAX_SESSION_EVENTS_SCANNED = 10_000  # the outbox only grows: bound how much of it one view reads
GATEWAY_ENGINE_NAME = "gateway"  # app/stack.py's EngineSpec name: the folder of its store and logs
SESSION_PAYLOAD_KEYS = ("session", "comp_id")


@dataclass(frozen=True)
class ConfiguredSession:
    comp_id: str
    role: str
    account: str


@dataclass(frozen=True)
class SessionRow:
    comp_id: str
    role: str
    account: str
    logged_on: bool
    next_sender_seq: int | None  # the next MsgSeqNum the gateway sends (None: no file store)
    next_target_seq: int | None  # the next MsgSeqNum the gateway expects
    last_message_at: datetime | None
    last_logon: datetime | None
    last_logout: datetime | None


class SessionSource(Protocol):
    def rows(self) -> list[SessionRow]: ...

    def live_rows(self) -> list[SessionRow]: ...


def read_seqnums(path: Path) -> tuple[int | None, int | None]:
    """QuickFIX's FileStore `.seqnums`: "SSSSSSSSSS : TTTTTTTTTT" (sender, target)."""
    try:
        sender, target = path.read_text().split(":")
        return int(sender), int(target)
    except (OSError, ValueError):
        return None, None


def _modified_at(path: Path) -> datetime | None:
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc)
    except OSError:
        return None


def _payload_session(payload_text: str) -> str | None:
    try:
        payload = json.loads(payload_text)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    for key in SESSION_PAYLOAD_KEYS:
        value = payload.get(key)
        if isinstance(value, str) and value:
            return value
    return None


def last_session_events(session: Session) -> dict[tuple[str, str], datetime]:
    """(comp_id, event type) -> latest occurrence, from the newest outbox session events."""
    statement = (
        select(OutboxRow.event_type, OutboxRow.payload, OutboxRow.occurred_at)
        .where(OutboxRow.event_type.in_((LOGGED_ON, LOGGED_OUT)))
        .order_by(OutboxRow.id.desc())
        .limit(MAX_SESSION_EVENTS_SCANNED)
    )
    latest: dict[tuple[str, str], datetime] = {}
    for event_type, payload_text, occurred_at in session.execute(statement):
        comp_id = _payload_session(payload_text)
        key = (comp_id or "", event_type)
        if comp_id is not None and (key not in latest or occurred_at > latest[key]):
            latest[key] = occurred_at
    return latest


class FileSessionSource:
    """Sessions as QuickFIX's files and the outbox show them; `live` (if given) says who is logged on now."""

    def __init__(self, configured: Iterable[ConfiguredSession], gateway_comp_id: str, data_dir: Path,
                 database: sessionmaker[Session] | Callable[[], Session],
                 live: Callable[[], set[str]] | None = None) -> None:
        self._configured = tuple(configured)
        self._gateway = gateway_comp_id
        self._folder = data_dir / "fix" / GATEWAY_ENGINE_NAME
        self._database = database
        self._live = live

    def rows(self) -> list[SessionRow]:
        with self._database() as session:
            events = last_session_events(session)
        return self.rows_from(events)

    def live_rows(self) -> list[SessionRow]:
        """Without last logon/logout times: no database read when the running gateway says who is on."""
        return self.rows_from({}) if self._live is not None else self.rows()

    def rows_from(self, events: dict[tuple[str, str], datetime]) -> list[SessionRow]:
        live = self._live() if self._live is not None else None
        rows = []
        for section in self._configured:
            name = f"FIX.4.4-{self._gateway}-{section.comp_id}"
            sender, target = read_seqnums(self._folder / "store" / f"{name}.seqnums")
            logon, logout = events.get((section.comp_id, LOGGED_ON)), events.get((section.comp_id, LOGGED_OUT))
            if live is not None:
                logged_on = section.comp_id in live
            else:
                logged_on = logon is not None and (logout is None or logon > logout)
            rows.append(SessionRow(section.comp_id, section.role, section.account, logged_on, sender, target,
                                   _modified_at(self._folder / "log" / f"{name}.messages.current.log"),
                                   logon, logout))
        return rows
