"""Credentials are compared as bytes and the check fails closed (issue 8, the authentication bypass)."""
from __future__ import annotations

from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.access.credentials import CredentialCache, StoredCredential, hash_password

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
USERNAME, PASSWORD = "REQ1", "req1-dev-password"
CACHE = CredentialCache({"REQ1"}, {"REQ1": StoredCredential(USERNAME, hash_password(PASSWORD), T0)})
CONFIGURED = (USERNAME.encode(), PASSWORD.encode())


def test_the_configured_pair_logs_on_as_bytes_and_as_text():
    assert CACHE.check("REQ1", *CONFIGURED).ok
    assert CACHE.check("REQ1", USERNAME, PASSWORD).ok


def test_bytes_that_are_not_utf8_are_refused_not_an_error():
    for username, password in [(b"\xff", b"\xff"), (b"REQ1", b"wrong\xff"), (b"REQ1", PASSWORD.encode() + b"\xff"),
                               (b"REQ1", "a\udcffb"), ("REQ1\udcff", PASSWORD)]:
        verdict = CACHE.check("REQ1", username, password)
        assert not verdict.ok and verdict.text == "wrong username or password"


def test_nul_padding_never_matches():
    """scrypt's HMAC pads short keys with NUL: "pw" and "pw\x00" would hash alike; control bytes are refused."""
    for padded in (PASSWORD.encode() + b"\x00", PASSWORD.encode() + b"\x00" * 20, b"\x00" + PASSWORD.encode()):
        assert not CACHE.check("REQ1", USERNAME.encode(), padded).ok
    assert not CACHE.check("REQ1", USERNAME.encode() + b"\x00", PASSWORD.encode()).ok


def test_a_verified_credential_is_recognised_again_without_a_second_scrypt(monkeypatch):
    from gateway.access import credentials

    clock = [100.0]
    cache = CredentialCache({"REQ1"}, {"REQ1": StoredCredential(USERNAME, hash_password(PASSWORD), T0)},
                            monotonic_s=lambda: clock[0])
    assert cache.check("REQ1", *CONFIGURED).ok
    monkeypatch.setattr(credentials, "verify_password", lambda *args: False)  # scrypt would now refuse
    assert cache.check("REQ1", *CONFIGURED).ok  # from the verified digest
    assert not cache.check("REQ1", USERNAME.encode(), b"other").ok
    clock[0] += 31
    assert not cache.check("REQ1", *CONFIGURED).ok  # the digest expired: scrypt again


def test_a_check_that_breaks_refuses():
    class Broken(dict):
        def get(self, *args):
            raise RuntimeError("store unreadable")

    cache = CredentialCache({"REQ1"}, {})
    cache._snapshot = type(cache._snapshot)(frozenset({"REQ1"}), Broken())  # noqa: SLF001 - inject the fault
    verdict = cache.check("REQ1", *CONFIGURED)
    assert not verdict.ok and verdict.text == "logon check failed"


credential_bytes = st.one_of(st.binary(max_size=64), st.binary(min_size=200, max_size=2000),
                             st.sampled_from([b"", b"REQ1", PASSWORD.encode(), PASSWORD.encode()[:-1],
                                              PASSWORD.encode() + b"\x00", b"req1-dev-passwore"]))


@settings(max_examples=60, deadline=None)  # each check runs scrypt (~25 ms)
@given(username=st.one_of(st.none(), credential_bytes), password=st.one_of(st.none(), credential_bytes))
def test_no_credentials_log_on_unless_exactly_the_configured_pair(username, password):
    verdict = CACHE.check("REQ1", username, password)
    assert verdict.ok == ((username, password) == CONFIGURED)


@settings(max_examples=200, deadline=None)
@given(comp_id=st.text(max_size=20), username=st.binary(max_size=20), password=st.binary(max_size=20))
def test_any_comp_id_gets_a_verdict(comp_id, username, password):
    verdict = CACHE.check(comp_id, username, password)
    assert verdict.ok == (comp_id == "REQ1" and (username, password) == CONFIGURED)
