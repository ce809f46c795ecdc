"""A generic QuickFIX initiator for tests: sends raw field lists, records what comes back.

Usage:
    client = FixTestClient("127.0.0.1", port, "CLIENT1", "VENUE", tmp_path, FIX44_XML)
    client.start(); client.wait_logged_on(10)
    client.send({35: "D", 11: "c1", 55: "AAPL", 54: "1", 38: "100", 40: "2", 44: "227.44",
                 60: "20250101-12:00:00.000"})
    report = client.wait_for(lambda m: m.msg_type == "8" and m[11] == "c1", timeout_s=10)

Received messages are ReceivedMessage dicts {tag: value} (header tags 35/49/56 included);
`.msg_type` is tag 35 and `.all(tag)` lists every occurrence of a tag (repeating groups).
A repeating group is sent as {count_tag: [[(tag, value), ...], ...]}; the first tag of an
entry is the group's delimiter.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence, Union

import quickfix as fix

from transport.fix.application import GuardedApplication
from transport.fix.engine import FixEngine
from transport.fix.settings_builder import EngineSpec, SessionSpec, session_id

SOH = "\x01"
HEADER_TAGS = frozenset({8, 9, 34, 35, 49, 52, 56})
MAX_RECORDED = 10_000

FieldValue = Union[str, Sequence[Sequence[tuple[int, str]]]]
Fields = Union[Mapping[int, FieldValue], Sequence[tuple[int, FieldValue]]]


class ReceivedMessage(dict):
    def __init__(self, pairs: list[tuple[int, str]], raw: str) -> None:
        super().__init__(pairs)
        self.pairs = pairs
        self.raw = raw

    @property
    def msg_type(self) -> str:
        return self[35]

    def all(self, tag: int) -> list[str]:
        return [value for field, value in self.pairs if field == tag]


def parse(raw: str) -> ReceivedMessage:
    pairs = []
    for item in raw.strip(SOH).split(SOH):
        tag, _, value = item.partition("=")
        pairs.append((int(tag), value))
    return ReceivedMessage(pairs, raw)


class _RecordingApplication(GuardedApplication):
    def __init__(self) -> None:
        super().__init__("tests.fixclient")
        self.logged_on = threading.Event()
        self.condition = threading.Condition()
        self.received: list[ReceivedMessage] = []
        self.admin_received: list[ReceivedMessage] = []

    def handle_logon(self, session_id: fix.SessionID) -> None:
        self.logged_on.set()

    def handle_logout(self, session_id: fix.SessionID) -> None:
        self.logged_on.clear()

    def handle_from_app(self, message: fix.Message, session_id: fix.SessionID) -> None:
        self._record(self.received, message)

    def handle_from_admin(self, message: fix.Message, session_id: fix.SessionID) -> None:
        if message.getHeader().getField(35) not in ("0", "1"):  # heartbeats are noise
            self._record(self.admin_received, message)

    def _record(self, into: list[ReceivedMessage], message: fix.Message) -> None:
        parsed = parse(message.toString())
        with self.condition:
            assert len(into) < MAX_RECORDED, "test client recorded too many messages"
            into.append(parsed)
            self.condition.notify_all()


class FixTestClient:
    def __init__(self, host: str, port: int, sender_comp_id: str, target_comp_id: str, data_dir: Path,
                 data_dictionary: Path, heartbeat_s: int = 30) -> None:
        self.session_id = session_id(sender_comp_id, target_comp_id)
        self._app = _RecordingApplication()
        spec = EngineSpec(
            name=f"client-{sender_comp_id}", connection_type="initiator", host=host, port=port,
            sessions=(SessionSpec(sender_comp_id, target_comp_id),), data_dir=Path(data_dir),
            data_dictionary=Path(data_dictionary), heartbeat_s=heartbeat_s,
        )
        self._engine: FixEngine | None = FixEngine(spec, self._app)

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> None:
        self._engine.start()

    def stop(self) -> None:
        """Stop and release the QuickFIX engine at once: a stale engine destroyed later by the
        garbage collector would unregister a newer session with the same SessionID."""
        if self._engine is not None:
            self._engine.stop()
            self._engine = None

    def wait_logged_on(self, timeout_s: float) -> None:
        if not self._app.logged_on.wait(timeout_s):
            raise TimeoutError(f"no logon within {timeout_s}s")

    def __enter__(self) -> FixTestClient:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # -- messages -----------------------------------------------------------------------------
    @property
    def received(self) -> list[ReceivedMessage]:
        with self._app.condition:
            return list(self._app.received)

    @property
    def admin_received(self) -> list[ReceivedMessage]:
        with self._app.condition:
            return list(self._app.admin_received)

    def send(self, fields: Fields) -> None:
        """Send one message; `fields` must contain 35 (MsgType). Session header tags are set by QuickFIX."""
        message = build_message(fields)
        if not fix.Session.sendToTarget(message, self.session_id):
            raise RuntimeError("message not sent: session not logged on")

    def wait_for(self, predicate: Callable[[ReceivedMessage], bool], timeout_s: float) -> ReceivedMessage:
        """The first received app message matching `predicate` (including ones already received)."""
        matches = self.wait_for_count(predicate, 1, timeout_s)
        return matches[0]

    def wait_for_count(self, predicate: Callable[[ReceivedMessage], bool], count: int,
                       timeout_s: float) -> list[ReceivedMessage]:
        def matching() -> list[ReceivedMessage]:
            return [m for m in self._app.received if predicate(m)]

        with self._app.condition:
            if not self._app.condition.wait_for(lambda: len(matching()) >= count, timeout_s):
                raise TimeoutError(f"{len(matching())}/{count} matching messages within {timeout_s}s; "
                                   f"received {[m.raw for m in self._app.received]}")
            return matching()


def _pairs(fields: Fields) -> Iterable[tuple[int, FieldValue]]:
    return fields.items() if isinstance(fields, Mapping) else fields


def build_message(fields: Fields) -> fix.Message:
    message = fix.Message()
    has_type = False
    for tag, value in _pairs(fields):
        if tag == 35:
            message.getHeader().setField(35, str(value))
            has_type = True
        elif tag in HEADER_TAGS:
            message.getHeader().setField(tag, str(value))
        elif isinstance(value, str):
            message.setField(tag, value)
        else:
            _add_group(message, tag, value)
    assert has_type, "fields must include 35 (MsgType)"
    return message


def _add_group(message: fix.Message, count_tag: int, entries: Sequence[Sequence[tuple[int, str]]]) -> None:
    assert entries, f"group {count_tag} needs at least one entry"
    delimiter = entries[0][0][0]
    member_tags = [tag for tag, _ in entries[0]]
    order = fix.IntArray(len(member_tags) + 1)
    for index, tag in enumerate(member_tags):
        order[index] = tag
    order[len(member_tags)] = 0
    for entry in entries:
        group = fix.Group(count_tag, delimiter, order)
        for tag, value in entry:
            group.setField(tag, value)
        message.addGroup(group)
