"""The FIX trading day: when sessions roll (sequence numbers back to 1, the message store emptied).

QuickFIX C++ schedules sessions in UTC or machine-local time only, so a "17:00 New York" roll
would drift by an hour twice a year. Every engine here runs NonStopSession=Y and this module
rolls it instead, on the injected clock and in the configured time zone (the Coinbase Prime and
Kraken practice: a daily forced logout, sequences reset afterwards).

- An acceptor resets each session at the roll (Logout, disconnect, store emptied) and, at start,
  every session whose store predates the last roll (the roll happened while it was down).
- An initiator logs out at the roll, and its next Logon after a roll carries ResetSeqNumFlag
  141=Y, so both sides start the new day at 1 together, whichever noticed the roll first.

Between two rolls nothing is reset: that is the retention of messages for resend.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import quickfix as fix
import structlog

from core.clock import Clock

log = structlog.get_logger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAYS_SEARCHED = 8  # a weekly roll is at most 7 days back or ahead


@dataclass(frozen=True)
class RollSchedule:
    roll_time: time
    time_zone: str
    weekdays: frozenset[int]  # 0 = Monday; empty: sessions never roll by schedule

    def __post_init__(self) -> None:
        ZoneInfo(self.time_zone)  # raises for an unknown zone
        if not all(0 <= day <= 6 for day in self.weekdays):
            raise ValueError(f"weekdays are 0 (Monday) .. 6 (Sunday), got {sorted(self.weekdays)}")

    @classmethod
    def daily(cls, roll_time: time = time(17, 0), time_zone: str = "America/New_York") -> RollSchedule:
        return cls(roll_time, time_zone, frozenset(range(7)))

    def _roll_on(self, day: date) -> datetime:
        local = datetime.combine(day, self.roll_time, tzinfo=ZoneInfo(self.time_zone))
        return local.astimezone(timezone.utc)

    def last_roll(self, now: datetime) -> datetime | None:
        """The latest roll at or before `now` (None: no roll is scheduled)."""
        today = now.astimezone(ZoneInfo(self.time_zone)).date()
        for back in range(DAYS_SEARCHED):
            day = today - timedelta(days=back)
            if day.weekday() in self.weekdays and self._roll_on(day) <= now:
                return self._roll_on(day)
        return None

    def next_roll(self, now: datetime) -> datetime | None:
        """The first roll strictly after `now`."""
        today = now.astimezone(ZoneInfo(self.time_zone)).date()
        for ahead in range(DAYS_SEARCHED):
            day = today + timedelta(days=ahead)
            if day.weekday() in self.weekdays and self._roll_on(day) > now:
                return self._roll_on(day)
        return None


# When a session's sequence numbers last started at 1 (its store's creation time); None: unknown.
CreatedAt = Callable[[fix.SessionID], datetime | None]


class SessionRoller:
    """Rolls one engine's sessions on schedule; `poll()` is called about once a second."""

    def __init__(self, schedule: RollSchedule, clock: Clock, session_ids: Callable[[], Iterable[fix.SessionID]],
                 acceptor: bool, created_at: CreatedAt) -> None:
        self._schedule = schedule
        self._created_at = created_at
        self._clock = clock
        self._session_ids = session_ids
        self._acceptor = acceptor
        self._next_roll = schedule.next_roll(clock.now())

    def is_stale(self, session_id: fix.SessionID) -> bool:
        """The session's sequence numbers belong to a trading day that has rolled."""
        last = self._schedule.last_roll(self._clock.now())
        created = self._created_at(session_id)
        # The store keeps its creation time to the second: a store created in the roll's own second is current.
        return last is not None and created is not None and created < last.replace(microsecond=0)

    def reset_stale(self) -> list[str]:
        """At start, before anyone can log on: reset the sessions whose day has rolled while we were down."""
        rolled = []
        for session_id in self._session_ids():
            if self.is_stale(session_id):
                _reset(session_id, "the trading day rolled while the engine was down")
                rolled.append(session_id.toString())
        return rolled

    def poll(self) -> bool:
        """Roll every session if the roll time has come; True when it rolled."""
        now = self._clock.now()
        if self._next_roll is None or now < self._next_roll:
            return False
        self._next_roll = self._schedule.next_roll(now)
        for session_id in self._session_ids():
            if self._acceptor:
                _reset(session_id, "end of the trading day: sequence numbers reset")
            else:
                _logout(session_id)  # the next Logon carries 141=Y (ResetSeqNumFlag): see wants_reset
        log.info("fix_sessions_rolled", acceptor=self._acceptor, next_roll=str(self._next_roll))
        return True

    def wants_reset(self, session_id: fix.SessionID) -> bool:
        """An initiator's Logon asks for 141=Y when its sequence numbers predate the last roll."""
        return not self._acceptor and self.is_stale(session_id)


def _reset(session_id: fix.SessionID, why: str) -> None:
    session = fix.Session.lookupSession(session_id)
    if session is None:
        return
    log.info("fix_session_reset", session=session_id.toString(), why=why)
    session.reset()  # Logout if logged on, disconnect, sequence numbers to 1, store emptied


def _logout(session_id: fix.SessionID) -> None:
    session = fix.Session.lookupSession(session_id)
    if session is not None and session.isLoggedOn():
        session.logout("end of the trading day")
        session.logon()  # logout() also disables the session; it reconnects at once, with 141=Y


def set_reset_flag(message: fix.Message) -> None:
    """Mark an outgoing Logon ResetSeqNumFlag=Y: QuickFIX resets its own store before sending it."""
    message.setField(fix.ResetSeqNumFlag(True))


def parse_weekdays(names: Iterable[str]) -> frozenset[int]:
    days = set()
    for name in names:
        if name not in WEEKDAYS:
            raise ValueError(f"weekday must be one of {WEEKDAYS}, got {name!r}")
        days.add(WEEKDAYS.index(name))
    return frozenset(days)
