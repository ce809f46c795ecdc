"""The verdict on a first message from its raw bytes, before QuickFIX sees them."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.fix.logon_rules import LogonRefusal, LogonRequest, logon_tags, screen_logon
from tests.rawfix import frame
from transport.fix.dictionary import DATA_DICTIONARY

KNOWN = frozenset({"REQ1", "SOLVER1"})
TAGS = logon_tags(DATA_DICTIONARY)


def logon(*extra, sender="REQ1", target="RFQGW", heartbeat=30, **overrides):
    fields = [(35, "A"), (49, sender), (56, target), (34, 1), (52, "20261120-15:00:00.000"), (98, 0),
              (108, heartbeat), (553, "REQ1"), (554, "pw"), *extra]
    return frame(fields, **overrides)


def verdict(raw: bytes, credentials_required: bool = True):
    return screen_logon(raw, "RFQGW", KNOWN, TAGS, credentials_required)


def test_a_well_formed_logon_is_a_request_with_its_credentials_as_bytes():
    request = verdict(logon((141, "Y")))
    assert isinstance(request, LogonRequest)
    assert (request.sender, request.msg_seq_num, request.heartbeat_s, request.reset_seq_num) == ("REQ1", 1, 30, True)
    assert (request.username, request.password) == (b"REQ1", b"pw")


@pytest.mark.parametrize("raw, text, reply_to", [
    (logon(begin_string=b"FIX.4.2"), "unsupported BeginString FIX.4.2", "REQ1"),
    (logon(checksum=7), "CheckSum (10)", "REQ1"),
    (logon(body_length=10), "BodyLength (9)", "REQ1"),
    (logon((9999, "x")), "tag 9999 is not defined for a Logon", "REQ1"),
    (logon((553, "again")), "tag 553 appears more than once", "REQ1"),
    (logon(target="NOT-US"), "unknown TargetCompID NOT-US", "REQ1"),
    (logon(sender="NOBODY"), "unknown CompID NOBODY", "NOBODY"),
    (logon(sender="R\xe9Q1".encode("latin-1")), "unknown CompID", None),
    (logon(heartbeat=0), "HeartBtInt (108)", "REQ1"),
    (logon(heartbeat=100000), "HeartBtInt (108)", "REQ1"),
    (logon((141, "X")), "ResetSeqNumFlag (141)", "REQ1"),
    (frame([(35, "A"), (49, "REQ1"), (56, "RFQGW"), (34, 1), (98, 0), (108, 30)]), "52 (SendingTime) is missing",
     "REQ1"),
    (frame([(35, "D"), (49, "REQ1"), (56, "RFQGW"), (34, 1)]), "must be a Logon", "REQ1"),
])
def test_broken_logons_are_refused_with_a_reason(raw, text, reply_to):
    refusal = verdict(raw)
    assert isinstance(refusal, LogonRefusal) and text in refusal.text
    assert refusal.reply_to == reply_to


def test_missing_credentials_are_refused_only_when_required():
    bare = frame([(35, "A"), (49, "REQ1"), (56, "RFQGW"), (34, 1), (52, "20261120-15:00:00"), (98, 0), (108, 30)])
    assert isinstance(verdict(bare), LogonRefusal)
    assert isinstance(verdict(bare, credentials_required=False), LogonRequest)


def test_credentials_longer_than_the_bound_are_refused_as_wrong():
    refusal = verdict(logon()[:0] + frame([(35, "A"), (49, "REQ1"), (56, "RFQGW"), (34, 1),
                                           (52, "20261120-15:00:00"), (98, 0), (108, 30), (553, "REQ1"),
                                           (554, "p" * 300)]))
    assert isinstance(refusal, LogonRefusal) and "wrong username or password" in refusal.text


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_get_a_verdict_never_an_exception(raw):
    assert isinstance(verdict(raw), LogonRequest | LogonRefusal)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10000), st.binary(min_size=1, max_size=30).filter(
    lambda value: b"\x01" not in value)), max_size=12))
def test_any_fields_in_a_well_framed_message_get_a_verdict(fields):
    raw = frame([(35, "A"), *fields])
    result = verdict(raw)
    assert isinstance(result, LogonRequest | LogonRefusal)
