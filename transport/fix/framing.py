"""Raw FIX bytes: where each message ends, its BodyLength and CheckSum, its fields.

No sockets here. The gateway's public port feeds received bytes to a `FrameScanner`
to find the Logon and, after it, to bound every message a counterparty sends before
QuickFIX buffers it (QuickFIX 1.16 has no limit: a BodyLength of 10^9 makes it wait,
and bytes with no "8=" in them pile up in its buffer). The scanner cuts the stream
the way QuickFIX's Parser::readFixMessage does, so both agree on message boundaries.
"""
from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

SOH = b"\x01"
BEGIN_STRING_MARK = b"8="
BODY_LENGTH_MARK = b"\x019="
CHECKSUM_MARK = b"\x0110="
# "8=FIX.4.4|9=" plus nine digits and SOH fits easily; a header longer than this is not FIX.
MAX_HEADER_PREFIX_BYTES = 64
MAX_TAG_DIGITS = 9


class FramingError(Exception):
    """Bytes that cannot be a FIX message; `reason` says why in words a counterparty can act on."""

    def __init__(self, reason: str, tag: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.tag = tag


class FrameKind(Enum):
    MESSAGE = "message"  # one complete message, as QuickFIX would cut it
    OVERSIZE = "oversize"  # a message whose length exceeds the bound: the stream cannot continue
    DISCARDED = "discarded"  # bytes QuickFIX would throw away (no "8=", or an unparseable BodyLength)


@dataclass(frozen=True)
class Frame:
    kind: FrameKind
    data: bytes  # the message (MESSAGE), the discarded bytes (DISCARDED), the header seen (OVERSIZE)
    declared_length: int | None = None  # BodyLength of an OVERSIZE message


class FrameScanner:
    """Cuts a byte stream into messages, never holding more than `max_message_bytes`."""

    def __init__(self, max_message_bytes: int) -> None:
        if max_message_bytes < MAX_HEADER_PREFIX_BYTES:
            raise ValueError(f"max_message_bytes {max_message_bytes} is below a header's size: every message "
                             "would be refused")
        self._max_message_bytes = max_message_bytes
        self._buffer = bytearray()
        self._oversize = False

    @property
    def pending_bytes(self) -> int:
        """Bytes received that do not yet form a complete message."""
        return len(self._buffer)

    def feed(self, chunk: bytes) -> list[Frame]:
        """Every frame `chunk` completes, in stream order. After an OVERSIZE frame the scanner is done."""
        if self._oversize:
            return []
        self._buffer += chunk
        frames: list[Frame] = []
        while self._buffer and not self._oversize:
            frame = self._next_frame()
            if frame is None:
                break
            frames.append(frame)
        return frames

    def _next_frame(self) -> Frame | None:
        start = self._buffer.find(BEGIN_STRING_MARK)
        if start != 0:
            return self._discard_before(start)  # None when only a possible "8" of the next message is left
        length_at = self._buffer.find(BODY_LENGTH_MARK, 0, MAX_HEADER_PREFIX_BYTES)
        if length_at < 0:
            return self._discard_all() if len(self._buffer) >= MAX_HEADER_PREFIX_BYTES else None
        length_end = self._buffer.find(SOH, length_at + len(BODY_LENGTH_MARK), MAX_HEADER_PREFIX_BYTES)
        if length_end < 0:
            return self._discard_all() if len(self._buffer) >= MAX_HEADER_PREFIX_BYTES else None
        declared = _parse_length(bytes(self._buffer[length_at + len(BODY_LENGTH_MARK):length_end]))
        if declared is None:
            return self._discard_all()  # QuickFIX throws MessageParseError and erases its buffer
        body_start = length_end + 1
        if body_start + declared + len(CHECKSUM_MARK) + 4 > self._max_message_bytes:
            self._oversize = True
            header = bytes(self._buffer[:body_start])
            self._buffer.clear()
            return Frame(FrameKind.OVERSIZE, header, declared)
        return self._cut_message(body_start + declared)

    def _cut_message(self, body_end: int) -> Frame | None:
        if len(self._buffer) < body_end:
            return None
        # As QuickFIX does: the checksum field is searched from the last body byte on, so a
        # wrong BodyLength still yields a message (which then fails its BodyLength check).
        checksum_at = self._buffer.find(CHECKSUM_MARK, body_end - 1)
        end = -1 if checksum_at < 0 else self._buffer.find(SOH, checksum_at + len(CHECKSUM_MARK))
        if end < 0:
            if len(self._buffer) >= self._max_message_bytes:
                self._oversize = True
                header = bytes(self._buffer[:body_end])
                self._buffer.clear()
                return Frame(FrameKind.OVERSIZE, header, None)
            return None
        message = bytes(self._buffer[:end + 1])
        del self._buffer[:end + 1]
        return Frame(FrameKind.MESSAGE, message)

    def _discard_before(self, start: int) -> Frame | None:
        if start < 0:  # no "8=" at all: keep a trailing "8" that may begin the next message
            keep = 1 if self._buffer.endswith(b"8") else 0
            cut = len(self._buffer) - keep
        else:
            cut = start
        if cut == 0:
            return None
        dropped = bytes(self._buffer[:cut])
        del self._buffer[:cut]
        return Frame(FrameKind.DISCARDED, dropped)

    def _discard_all(self) -> Frame:
        dropped = bytes(self._buffer)
        self._buffer.clear()
        return Frame(FrameKind.DISCARDED, dropped)


def _parse_length(raw: bytes) -> int | None:
    if not raw or len(raw) > MAX_TAG_DIGITS or not raw.isdigit():
        return None
    return int(raw)


def checksum(data: bytes) -> int:
    return sum(data) % 256


@dataclass(frozen=True)
class ParsedMessage:
    """A complete message whose framing (BeginString first, BodyLength, CheckSum) was verified."""

    raw: bytes
    fields: tuple[tuple[int, bytes], ...]

    def first(self, tag: int) -> bytes | None:
        for field_tag, value in self.fields:
            if field_tag == tag:
                return value
        return None

    @property
    def msg_type(self) -> bytes | None:
        return self.first(35)


def split_fields(data: bytes) -> list[tuple[int, bytes]]:
    """`tag=value` pairs of SOH-terminated fields; FramingError on anything else."""
    if not data.endswith(SOH):
        raise FramingError("the message does not end with a field delimiter (SOH)")
    pairs: list[tuple[int, bytes]] = []
    for item in data[:-1].split(SOH):
        tag_text, separator, value = item.partition(b"=")
        if not separator or not tag_text.isdigit() or len(tag_text) > MAX_TAG_DIGITS or tag_text.startswith(b"0"):
            raise FramingError(f"malformed field {_printable(item[:24])!r}: expected tag=value")
        tag = int(tag_text)
        if not value:
            raise FramingError(f"tag {tag} has no value", tag)
        pairs.append((tag, value))
    return pairs


def parse_message(data: bytes) -> ParsedMessage:
    """Verify a framed message's standard header order, BodyLength and CheckSum, and split it."""
    fields = split_fields(data)
    if len(fields) < 4 or [tag for tag, _ in fields[:3]] != [8, 9, 35]:
        raise FramingError("the first three fields must be BeginString (8), BodyLength (9) and MsgType (35)")
    if fields[-1][0] != 10:
        raise FramingError("the last field must be CheckSum (10)", 10)
    declared = _parse_length(fields[1][1])
    body_start = data.index(SOH, data.index(SOH) + 1) + 1
    body_end = data.rindex(CHECKSUM_MARK) + 1
    if declared is None or declared != body_end - body_start:
        raise FramingError(f"BodyLength (9) is {_printable(fields[1][1])}, the body is {body_end - body_start} bytes", 9)
    expected = checksum(data[:body_end])
    stated = fields[-1][1]
    if len(stated) != 3 or not stated.isdigit() or int(stated) != expected:
        raise FramingError(f"CheckSum (10) is {_printable(stated)}, expected {expected:03d}", 10)
    return ParsedMessage(data, tuple(fields))


def _printable(raw: bytes) -> str:
    """Bytes shown back to a counterparty: printable ASCII kept, anything else as '?'."""
    return "".join(chr(byte) if 0x20 <= byte < 0x7F else "?" for byte in raw)


def printable(raw: bytes, limit: int = 64) -> str:
    text = _printable(raw[:limit])
    return text + ("..." if len(raw) > limit else "")
