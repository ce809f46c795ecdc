"""A FIX counterparty on a bare socket, for hostile tests: it sends exactly the bytes a test
asks for (broken framing, non-UTF-8 values, floods) and reads what comes back.

    session = RawFixSession(port, "REQ1").connect()
    answer = session.logon(b"REQ1", b"req1-dev-password")     # the gateway's Logon, or its Logout
    session.send("R", [(131, "q1"), (146, 1), (55, "AAPL"), (54, 1), (38, 10)])
    reply = session.read_until(lambda m: m.get(35) == b"AG", timeout_s=5)
"""
from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

import simplefix

FieldValue = str | bytes | int


def frame(fields: Iterable[tuple[int, FieldValue]], begin_string: bytes = b"FIX.4.4",
          body_length: int | None = None, checksum: int | None = None) -> bytes:
    """A message from fields (35 first); BodyLength and CheckSum computed unless overridden."""
    body = b"".join(b"%d=%s\x01" % (tag, _bytes(value)) for tag, value in fields)
    length = len(body) if body_length is None else body_length
    head = b"8=" + begin_string + b"\x019=%d\x01" % length
    total = sum(head + body) % 256 if checksum is None else checksum
    return head + body + b"10=%03d\x01" % total


def _bytes(value: FieldValue) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode("ascii")


def sending_time() -> bytes:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H:%M:%S.%f")[:-3].encode()


class RawFixSession:
    def __init__(self, port: int, sender: str, target: str = "RFQGW", host: str = "127.0.0.1",
                 tls: ssl.SSLContext | None = None, timeout_s: float = 5.0, source_address: str | None = None) -> None:
        self.port, self.host, self.sender, self.target = port, host, sender, target
        self._source = (source_address, 0) if source_address else None
        self._tls = tls
        self._timeout_s = timeout_s
        self._socket: socket.socket | None = None
        self._parser = simplefix.FixParser()
        self.next_seq = 1
        self.received: list[simplefix.FixMessage] = []

    def connect(self) -> "RawFixSession":
        raw = socket.create_connection((self.host, self.port), timeout=self._timeout_s,
                                       source_address=self._source)
        self._socket = self._tls.wrap_socket(raw, server_hostname="localhost") if self._tls else raw
        return self

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None

    def __enter__(self) -> "RawFixSession":
        return self.connect()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- sending ----------------------------------------------------------------------------
    def send_raw(self, data: bytes) -> None:
        assert self._socket is not None, "connect first"
        self._socket.sendall(data)

    def message(self, msg_type: str, fields: Iterable[tuple[int, FieldValue]] = (),
                seq: int | None = None) -> bytes:
        """A well-framed message with this session's header and the next sequence number."""
        number = self.next_seq if seq is None else seq
        if seq is None:
            self.next_seq += 1
        header = [(35, msg_type), (49, self.sender), (56, self.target), (34, number), (52, sending_time())]
        return frame([*header, *fields])

    def send(self, msg_type: str, fields: Iterable[tuple[int, FieldValue]] = ()) -> int:
        """Send an application or session message; returns its MsgSeqNum."""
        seq = self.next_seq
        self.send_raw(self.message(msg_type, fields))
        return seq

    def logon(self, username: bytes | None, password: bytes | None, reset: bool = True,
              heartbeat_s: int = 30, timeout_s: float | None = None) -> simplefix.FixMessage | None:
        fields: list[tuple[int, FieldValue]] = [(98, 0), (108, heartbeat_s)]
        if reset:
            fields.append((141, "Y"))
        if username is not None:
            fields.append((553, username))
        if password is not None:
            fields.append((554, password))
        self.send("A", fields)
        return self.read_until(lambda m: m.get(35) in (b"A", b"5"), timeout_s or self._timeout_s)

    # -- receiving ----------------------------------------------------------------------------
    def read_message(self, timeout_s: float) -> simplefix.FixMessage | None:
        """The next message; None when nothing arrives in time or the peer has closed."""
        assert self._socket is not None, "connect first"
        deadline = time.monotonic() + timeout_s
        while (message := self._parser.get_message()) is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            self._socket.settimeout(remaining)
            try:
                chunk = self._socket.recv(65536)
            except (socket.timeout, TimeoutError):
                return None
            except (ConnectionError, ssl.SSLError):
                return None
            if not chunk:
                return None
            self._parser.append_buffer(chunk)
        self.received.append(message)
        return message

    def read_until(self, predicate: Callable[[simplefix.FixMessage], bool],
                   timeout_s: float) -> simplefix.FixMessage | None:
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            message = self.read_message(remaining)
            if message is None:
                return None
            if message.get(35) == b"1":  # TestRequest: answer so the session stays up
                self.send("0", [(112, message.get(112) or b"x")])
                continue
            if message.get(35) == b"2":  # ResendRequest: we keep nothing to resend, so fill the gap
                self.fill_gap(int(message.get(7)))
                continue
            if predicate(message):
                return message
        return None

    def peer_closed_within(self, timeout_s: float) -> bool:
        """True when the peer closes the connection within `timeout_s` (messages on the way are read)."""
        assert self._socket is not None, "connect first"
        deadline = time.monotonic() + timeout_s
        while (remaining := deadline - time.monotonic()) > 0:
            self._socket.settimeout(remaining)
            try:
                chunk = self._socket.recv(65536)
            except (socket.timeout, TimeoutError):
                return False
            except (ConnectionError, ssl.SSLError):
                return True
            if not chunk:
                return True
            self._parser.append_buffer(chunk)
            while (message := self._parser.get_message()) is not None:
                self.received.append(message)
        return False

    def fill_gap(self, begin_seq: int) -> None:
        """SequenceReset-GapFill from `begin_seq` to our next sequence number (PossDupFlag=Y)."""
        header = [(35, "4"), (49, self.sender), (56, self.target), (34, begin_seq), (43, "Y"),
                  (52, sending_time()), (122, sending_time())]
        self.send_raw(frame([*header, (123, "Y"), (36, self.next_seq)]))

    def logout(self, timeout_s: float = 5.0) -> simplefix.FixMessage | None:
        self.send("5")
        return self.read_until(lambda m: m.get(35) == b"5", timeout_s)
