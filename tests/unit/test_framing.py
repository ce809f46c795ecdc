"""Cutting raw bytes into FIX messages the way QuickFIX does, with a bound on size."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.rawfix import frame
from transport.fix.framing import FrameKind, FrameScanner, FramingError, parse_message

LOGON = frame([(35, "A"), (49, "REQ1"), (56, "RFQGW"), (34, 1), (52, "20261120-15:00:00.000"), (98, 0), (108, 30)])


def test_a_message_split_anywhere_comes_out_whole():
    for cut in range(1, len(LOGON)):
        scanner = FrameScanner(4096)
        frames = scanner.feed(LOGON[:cut]) + scanner.feed(LOGON[cut:])
        assert [f.kind for f in frames] == [FrameKind.MESSAGE] and frames[0].data == LOGON


def test_two_messages_in_one_chunk():
    frames = FrameScanner(4096).feed(LOGON + LOGON)
    assert [f.data for f in frames] == [LOGON, LOGON]


def test_bytes_before_a_message_are_discarded_not_buffered():
    scanner = FrameScanner(4096)
    frames = scanner.feed(b"garbage" * 10 + LOGON)
    assert [f.kind for f in frames] == [FrameKind.DISCARDED, FrameKind.MESSAGE]
    assert scanner.pending_bytes == 0


def test_a_stream_without_any_message_start_is_never_held():
    scanner = FrameScanner(4096)
    for _ in range(1000):
        scanner.feed(b"x" * 1000)
    assert scanner.pending_bytes <= 1


def test_a_body_length_beyond_the_bound_stops_the_stream():
    scanner = FrameScanner(1024)
    frames = scanner.feed(b"8=FIX.4.4\x019=999999999\x0135=R\x01")
    assert frames[0].kind is FrameKind.OVERSIZE and frames[0].declared_length == 999999999
    assert scanner.feed(LOGON) == []


def test_a_message_without_checksum_cannot_grow_beyond_the_bound():
    scanner = FrameScanner(1024)
    frames = scanner.feed(b"8=FIX.4.4\x019=10\x0135=R\x01" + b"58=" + b"y" * 2000)
    assert frames and frames[-1].kind is FrameKind.OVERSIZE


def test_a_wrong_body_length_still_frames_like_quickfix_and_fails_its_check():
    broken = frame([(35, "A"), (49, "REQ1")], body_length=5)
    frames = FrameScanner(4096).feed(broken)
    assert frames[0].kind is FrameKind.MESSAGE
    with pytest.raises(FramingError, match="BodyLength"):
        parse_message(frames[0].data)


def test_checksum_and_field_rules():
    assert parse_message(LOGON).msg_type == b"A"
    with pytest.raises(FramingError, match="CheckSum"):
        parse_message(frame([(35, "A"), (49, "X")], checksum=0))
    with pytest.raises(FramingError, match="tag 58 has no value"):
        parse_message(frame([(35, "A"), (58, b"")]))
    with pytest.raises(FramingError, match="malformed field"):
        parse_message(b"8=FIX.4.4\x019=8\x0135=A\x01x=\x0110=000\x01")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=300), max_size=20))
def test_any_bytes_never_hold_more_than_the_bound(chunks):
    scanner = FrameScanner(512)
    for chunk in chunks:
        for produced in scanner.feed(chunk):
            if produced.kind is FrameKind.MESSAGE:
                assert len(produced.data) <= 512
        assert scanner.pending_bytes <= 512 + 300
