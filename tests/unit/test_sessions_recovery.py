"""Sessions and recovery without sockets: the FIX day's roll, sequence progress, the engine's
exactly-once intake, batching and the FIX outbox (the socket-level cases are in
tests/integration/test_sessions_recovery.py)."""
from __future__ import annotations

from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest

from core.clock import FakeClock
from core.types import SessionName
from gateway.domain import outbound as out
from gateway.domain.book import RfqBook
from gateway.domain.commands import Inbound, SessionStatusChanged
from gateway.domain.progress import SessionProgress, at_logon
from gateway.engine import RfqEngine
from tests import stubs
from tests.fakes import FakeGatewayStore, FakeLedger, FakeUnitOfWork
from transport.fix.roll import RollSchedule, SessionRoller, parse_weekdays

D = Decimal
UTC = timezone.utc
EPOCH = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


# -- the FIX day ------------------------------------------------------------------------------------
def test_a_new_york_roll_follows_daylight_saving_time():
    schedule = RollSchedule.daily()
    winter = datetime(2026, 12, 1, 23, 0, tzinfo=UTC)
    summer = datetime(2026, 7, 1, 23, 0, tzinfo=UTC)
    assert schedule.last_roll(winter) == datetime(2026, 12, 1, 22, 0, tzinfo=UTC)  # 17:00 EST
    assert schedule.last_roll(summer) == datetime(2026, 7, 1, 21, 0, tzinfo=UTC)  # 17:00 EDT
    # The Sunday clocks go back (2026-11-01): the roll moves from 21:00 to 22:00 UTC.
    assert schedule.next_roll(datetime(2026, 10, 31, 21, 30, tzinfo=UTC)) == datetime(2026, 11, 1, 22, 0, tzinfo=UTC)


def test_a_weekly_roll_and_no_roll():
    weekly = RollSchedule(time(17, 0), "America/New_York", parse_weekdays(["sun"]))
    friday = datetime(2026, 11, 20, 23, 0, tzinfo=UTC)
    assert weekly.last_roll(friday) == datetime(2026, 11, 15, 22, 0, tzinfo=UTC)
    assert weekly.next_roll(friday) == datetime(2026, 11, 22, 22, 0, tzinfo=UTC)
    never = RollSchedule(time(17, 0), "America/New_York", frozenset())
    assert never.last_roll(friday) is None and never.next_roll(friday) is None
    with pytest.raises(ValueError):
        parse_weekdays(["someday"])


class Sessions:
    """Stand-ins for QuickFIX's session registry: store creation times by session."""

    def __init__(self, created: dict[str, datetime]) -> None:
        self.created = created

    def ids(self):
        return list(self.created)

    def created_at(self, session_id):
        return self.created.get(session_id)


def test_a_session_whose_store_predates_the_last_roll_is_stale():
    clock = FakeClock(datetime(2026, 11, 20, 23, 0, tzinfo=UTC))  # an hour after Friday's 17:00 roll
    sessions = Sessions({"old": datetime(2026, 11, 20, 21, 59, 59, tzinfo=UTC),
                         "new": datetime(2026, 11, 20, 22, 0, 0, tzinfo=UTC)})
    acceptor = SessionRoller(RollSchedule.daily(), clock, sessions.ids, acceptor=True,
                             created_at=sessions.created_at)
    assert acceptor.is_stale("old") and not acceptor.is_stale("new")
    assert not acceptor.wants_reset("old")  # an acceptor resets; only an initiator asks for 141=Y
    initiator = SessionRoller(RollSchedule.daily(), clock, sessions.ids, acceptor=False,
                              created_at=sessions.created_at)
    assert initiator.wants_reset("old") and not initiator.wants_reset("new")


def test_the_roller_rolls_once_at_the_roll_time():
    clock = FakeClock(datetime(2026, 11, 20, 21, 59, 0, tzinfo=UTC))
    roller = SessionRoller(RollSchedule.daily(), clock, lambda: [], acceptor=True, created_at=lambda sid: None)
    assert roller.poll() is False
    clock.advance(60)
    assert roller.poll() is True
    assert roller.poll() is False  # the next one is tomorrow
    clock.advance(24 * 3600)
    assert roller.poll() is True


# -- sequence progress --------------------------------------------------------------------------------
def test_progress_is_kept_at_logon_only_within_its_generation():
    known = SessionProgress(EPOCH, 7)
    assert at_logon(known, EPOCH, 9) == known  # a reconnect: messages 8.. may still come (resent)
    # A reset (141=Y, the roll): the Logon was message 1, everything after it is new.
    assert at_logon(known, EPOCH + timedelta(hours=1), 2) == SessionProgress(EPOCH + timedelta(hours=1), 1)
    assert at_logon(known, EPOCH, 2) == SessionProgress(EPOCH, 1)  # reset within the same second
    assert at_logon(None, EPOCH, 5) == SessionProgress(EPOCH, 4)  # nothing recorded: QuickFIX's count stands
    assert known.covers(7) and not known.covers(8)


# -- the engine: exactly-once intake, batches, the outbox -------------------------------------------
class Rig:
    def __init__(self, store: FakeGatewayStore | None = None) -> None:
        self.ledger = FakeLedger()
        self.ledger.deposit("REQ1", "USDC", D("100000"))
        self.ledger.deposit("SOLVER1", "AAPL", D("1000"))
        self.store = store or FakeGatewayStore()
        self.unit = FakeUnitOfWork(self.ledger, self.store)
        self.sent: list[object] = []
        self.resent: list[object] = []
        self.clock = FakeClock(stubs.T0)
        self.engine = RfqEngine(stubs.policy(), RfqBook(), lambda: self.unit, self.clock, self.sent.append,
                                poll_operator_commands=False, progress=self.store.load_progress(),
                                resend=self.resent.append)

    def logon(self, session: str, next_expected: int = 2) -> None:
        self.engine.handle(SessionStatusChanged(SessionName(session), logged_on=True, sequence_epoch=EPOCH,
                                                next_expected_seq=next_expected))

    def inbound(self, command: object, seq: int, session: str = "REQ1", poss_dup: bool = False) -> Inbound:
        return Inbound(command, SessionName(session), seq, poss_dup)


@pytest.fixture
def rig() -> Rig:
    rig = Rig()
    rig.logon("REQ1")
    rig.logon("SOLVER1")
    return rig


def test_each_processed_message_advances_its_sessions_progress_in_the_same_commit(rig):
    rig.engine.handle(rig.inbound(stubs.request_quote(), 2))
    rig.engine.handle(rig.inbound(stubs.submit_quote(), 2, session="SOLVER1"))
    assert rig.store.progress[SessionName("REQ1")] == SessionProgress(EPOCH, 2)
    assert rig.store.progress[SessionName("SOLVER1")] == SessionProgress(EPOCH, 2)


def test_a_message_at_or_below_the_progress_is_not_processed_again(rig):
    rig.engine.handle(rig.inbound(stubs.request_quote(), 2))
    forwarded = len(rig.sent)
    rig.engine.handle(rig.inbound(stubs.request_quote(client_req_id="other"), 2, poss_dup=True))
    assert len(rig.sent) == forwarded  # skipped: no answer, nothing decided
    assert rig.engine.book.rfq_by_client_id(SessionName("REQ1"), "other") is None


def test_a_resent_message_whose_id_was_processed_is_recognised(rig):
    """A resend under a new sequence number (e.g. the previous day's, after the roll)."""
    rig.engine.handle(rig.inbound(stubs.request_quote(), 2))
    answered = len(rig.sent)
    rig.engine.handle(rig.inbound(stubs.request_quote(), 3, poss_dup=True))
    assert len(rig.sent) == answered  # not refused as a duplicate: its first answer stands
    assert rig.store.progress[SessionName("REQ1")].last_seq == 3


def test_a_reset_at_logon_starts_counting_again(rig):
    rig.engine.handle(rig.inbound(stubs.request_quote(), 5))
    rig.logon("REQ1", next_expected=2)  # 141=Y: the counterparty starts again at 1
    rig.engine.handle(rig.inbound(stubs.request_quote(client_req_id="after-reset"), 2))
    assert rig.engine.book.rfq_by_client_id(SessionName("REQ1"), "after-reset") is not None
    assert rig.store.progress[SessionName("REQ1")] == SessionProgress(EPOCH, 2)


def test_a_batch_commits_once_and_a_refusal_inside_it_changes_nothing_else(rig):
    commits = rig.unit.commits
    rig.engine.handle_batch([rig.inbound(stubs.request_quote(client_req_id="a"), 2),
                             rig.inbound(stubs.request_quote(client_req_id="a"), 3),  # duplicate id: refused
                             rig.inbound(stubs.request_quote(client_req_id="b"), 4)])
    assert rig.unit.commits == commits + 1
    assert [rfq.client_req_id for rfq in rig.engine.book.all_rfqs()] == ["a", "b"]
    [refused] = [m for m in rig.sent if isinstance(m, out.RejectQuoteRequest)]
    assert refused.client_req_id == "a" and "duplicate" in refused.text.lower()
    assert rig.store.progress[SessionName("REQ1")].last_seq == 4


def test_a_failed_commit_refuses_the_whole_batch_and_memory_follows_the_database(rig, monkeypatch):
    def failing_commit() -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(rig.unit, "commit", failing_commit)
    rig.engine.handle_batch([rig.inbound(stubs.request_quote(client_req_id="x"), 2)])
    assert rig.engine.book.rfq_by_client_id(SessionName("REQ1"), "x") is None
    [refused] = [m for m in rig.sent if isinstance(m, out.RejectQuoteRequest)]
    assert "internal error" in refused.text
    assert SessionName("REQ1") not in rig.store.progress or rig.store.progress[SessionName("REQ1")].last_seq < 2


def test_replies_a_crash_kept_from_quickfix_are_resent_at_start():
    first = Rig()
    first.logon("REQ1")
    first.logon("SOLVER1")
    first.engine.handle(first.inbound(stubs.request_quote(client_req_id="a"), 2))
    first.engine.handle(first.inbound(stubs.request_quote(client_req_id="b"), 3))
    # The process dies here: the replies to "b" were committed and handed over, but the mark that
    # they reached QuickFIX's store is only written with the next transaction.
    replies_to_b = [m for m in first.sent if getattr(m, "quote_req_id", "") == "rfq-2"]
    second = Rig(store=first.store)
    second.engine.start()
    assert second.resent and all(getattr(m, "quote_req_id", "") == "rfq-2" for m in second.resent)
    assert len(second.resent) == len(replies_to_b)
    assert not first.store.outbox  # marked delivered: the next start resends nothing
