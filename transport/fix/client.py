"""A small scripted FIX counterparty (initiator) for the demo, tools and tests.

It records every application message it receives (and session-level Rejects)
as plain tag->value data, and lets a script wait for one matching a predicate.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import quickfix as fix
import simplefix

from transport.fix.application import GuardedApplication, add_logon_credentials, message_type, send
from transport.fix.engine import FixEngine
from transport.fix.settings_builder import EngineSpec, SessionSpec, session_id
from transport.fix.writer import new_group, new_message, put

RECEIVED_LIMIT = 10_000  # a script that never reads its messages must not grow without bound


@dataclass(frozen=True)
class Received:
    msg_type: str
    pairs: tuple[tuple[int, str], ...]

    def get(self, tag: int, default: str | None = None) -> str | None:
        for key, value in self.pairs:
            if key == tag:
                return value
        return default

    def __getitem__(self, tag: int) -> str:
        value = self.get(tag)
        if value is None:
            raise KeyError(tag)
        return value

    def all(self, tag: int) -> list[str]:
        return [value for key, value in self.pairs if key == tag]


def to_received(message: fix.Message) -> Received:
    parser = simplefix.FixParser()
    parser.append_buffer(message.toString().encode())
    parsed = parser.get_message()
    assert parsed is not None, "QuickFIX handed us an unparseable message"
    pairs = tuple((int(tag), value.decode()) for tag, value in parsed.pairs)
    return Received(message_type(message), pairs)


class _RecordingApplication(GuardedApplication):
    def __init__(self, client: "FixClient", credentials: tuple[str, str] | None) -> None:
        super().__init__("fixio.client")
        self._client = client
        self._credentials = credentials

    def handle_to_admin(self, message: fix.Message, session: fix.SessionID) -> None:
        add_logon_credentials(message, self._credentials)

    def handle_logon(self, session: fix.SessionID) -> None:
        self._client.logged_on.set()

    def handle_logout(self, session: fix.SessionID) -> None:
        self._client.logged_on.clear()

    def handle_from_app(self, message: fix.Message, session: fix.SessionID) -> None:
        self._client.record(to_received(message))

    def handle_from_admin(self, message: fix.Message, session: fix.SessionID) -> None:
        if message_type(message) in ("3", "5"):  # session Reject and Logout carry reasons scripts check
            self._client.record(to_received(message))


class FixClient:
    def __init__(self, comp_id: str, target_comp_id: str, host: str, port: int, data_dir: Path,
                 data_dictionary: Path, credentials: tuple[str, str] | None = None,
                 on_message: Callable[[Received], None] | None = None) -> None:
        """`on_message` sees each message on QuickFIX's thread before it counts as received, so a
        journal written there loses nothing to a kill (QuickFIX would not resend it)."""
        self.comp_id = comp_id
        self._on_message = on_message
        self.session = session_id(comp_id, target_comp_id)
        self.logged_on = threading.Event()
        self._received: list[Received] = []
        self._condition = threading.Condition()
        spec = EngineSpec(name=f"client-{comp_id}", connection_type="initiator", host=host, port=port,
                          sessions=(SessionSpec(comp_id, target_comp_id),), data_dir=data_dir,
                          data_dictionary=data_dictionary)
        self._engine = FixEngine(spec, _RecordingApplication(self, credentials))

    def start(self, logon_timeout_s: float = 10.0) -> "FixClient":
        self._engine.start()
        if not self.logged_on.wait(logon_timeout_s):
            raise TimeoutError(f"{self.comp_id} did not log on within {logon_timeout_s} s")
        return self

    def stop(self) -> None:
        self._engine.stop()

    def next_sender_seq(self) -> int:
        """The MsgSeqNum this client's next message will carry (its FIX store's count)."""
        session = fix.Session.lookupSession(self.session)
        return int(session.getExpectedSenderNum()) if session is not None else 0

    def record(self, message: Received) -> None:
        if self._on_message is not None:
            self._on_message(message)
        with self._condition:
            self._received.append(message)
            if len(self._received) > RECEIVED_LIMIT:
                dropped = len(self._received) - RECEIVED_LIMIT
                del self._received[:dropped]
            self._condition.notify_all()

    def received(self) -> list[Received]:
        with self._condition:
            return list(self._received)

    def wait_for(self, predicate: Callable[[Received], bool], timeout_s: float = 10.0) -> Received:
        """The first message (in arrival order, not consumed before) that matches; consumes it."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while True:
                for index in range(len(self._received)):
                    message = self._received[index]
                    if predicate(message):
                        self._received.pop(index)
                        return message
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [(m.msg_type, dict(m.pairs).get(58)) for m in self._received[-10:]]
                    raise TimeoutError(f"{self.comp_id}: no matching message within {timeout_s} s; last: {seen}")
                self._condition.wait(remaining)

    def send(self, msg_type: str, fields: Iterable[tuple[int, object]],
             groups: Iterable[tuple[int, int, list[tuple[int, object]]]] = ()) -> None:
        """Send an application message; groups are (count_tag, delimiter_tag, entry fields)."""
        message = new_message(msg_type)
        for tag, value in fields:
            put(message, tag, value)
        for count_tag, delimiter_tag, entry_fields in groups:
            entry = new_group(count_tag, delimiter_tag, [tag for tag, _ in entry_fields])
            for tag, value in entry_fields:
                put(entry, tag, value)
            message.addGroup(entry)
        if not send(message, self.session):
            raise ConnectionError(f"{self.comp_id} is not logged on")
