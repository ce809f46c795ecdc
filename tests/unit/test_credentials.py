"""Password hashing and the in-memory logon check used from QuickFIX's threads."""
from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from gateway.access.credentials import (
    CredentialCache,
    LogonVerdict,
    StoredCredential,
    hash_password,
    verify_password,
)

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
ENCODED_S3CRET = hash_password("s3cret")


def _credential(username: str, password: str) -> StoredCredential:
    return StoredCredential(username=username, password_hash=hash_password(password), updated_at=T0)


def test_hash_then_verify_round_trip() -> None:
    assert verify_password("s3cret", ENCODED_S3CRET) is True


def test_encoding_names_algorithm_parameters_salt_and_hash() -> None:
    algorithm, parameters, salt_b64, hash_b64 = ENCODED_S3CRET.split("$")
    assert (algorithm, parameters) == ("scrypt", "n=8192,r=8,p=1")
    assert len(base64.b64decode(salt_b64, validate=True)) == 16
    assert len(base64.b64decode(hash_b64, validate=True)) == 32
    assert "s3cret" not in ENCODED_S3CRET


@pytest.mark.parametrize("attempt", ["s3creT", "s3cret ", "", "s3cre", "s3cret\n"])
def test_wrong_password_is_rejected(attempt: str) -> None:
    assert verify_password(attempt, ENCODED_S3CRET) is False


def test_unicode_password_round_trip() -> None:
    encoded = hash_password("pässwörd-€")
    assert verify_password("pässwörd-€", encoded) is True
    assert verify_password("passwörd-€", encoded) is False


def test_each_hash_gets_its_own_salt() -> None:
    first, second = hash_password("same"), hash_password("same")
    assert first.split("$")[2] != second.split("$")[2]
    assert first.split("$")[3] != second.split("$")[3]
    assert verify_password("same", first) and verify_password("same", second)


def _replace_part(index: int, value: str) -> Callable[[str], str]:
    def tamper(encoded: str) -> str:
        parts = encoded.split("$")
        parts[index] = value
        return "$".join(parts)

    return tamper


def _flip_hash_character(encoded: str) -> str:
    head, _, digest = encoded.rpartition("$")
    flipped = "B" if digest[0] != "B" else "C"
    return f"{head}${flipped}{digest[1:]}"


TAMPERINGS: dict[str, Callable[[str], str]] = {
    "hash changed": _flip_hash_character,
    "salt swapped": lambda encoded: _replace_part(2, hash_password("other").split("$")[2])(encoded),
    "hash truncated": lambda encoded: encoded[:-8],
    "other algorithm": _replace_part(0, "pbkdf2"),
    "n not a power of two": _replace_part(1, "n=8191,r=8,p=1"),
    "n far too large": _replace_part(1, "n=1073741824,r=8,p=1"),
    "r zero": _replace_part(1, "n=8192,r=0,p=1"),
    "parameter missing": _replace_part(1, "n=8192,r=8"),
    "parameter garbage": _replace_part(1, "n=x,r=8,p=1"),
    "salt not base64": _replace_part(2, "!!not base64!!"),
    "salt too short": _replace_part(2, base64.b64encode(b"short").decode()),
    "hash empty": _replace_part(3, ""),
    "extra field": lambda encoded: encoded + "$extra",
    "fields missing": lambda encoded: encoded.rpartition("$")[0],
    "empty string": lambda encoded: "",
    "non-ascii": lambda encoded: encoded.replace("$", "§", 1),
}


@pytest.mark.parametrize("tamper", TAMPERINGS.values(), ids=TAMPERINGS.keys())
def test_tampered_encoding_is_rejected_without_exception(tamper: Callable[[str], str]) -> None:
    tampered = tamper(ENCODED_S3CRET)
    assert tampered != ENCODED_S3CRET
    assert verify_password("s3cret", tampered) is False


def test_non_string_inputs_are_rejected() -> None:
    assert verify_password(None, ENCODED_S3CRET) is False  # type: ignore[arg-type]
    assert verify_password("s3cret", None) is False  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def cache() -> CredentialCache:
    return CredentialCache({"REQ1", "SOLVER1"}, {"REQ1": _credential("alice", "s3cret")})


def test_cache_accepts_the_right_username_and_password(cache: CredentialCache) -> None:
    assert cache.check("REQ1", "alice", "s3cret") == LogonVerdict(True, "ok")


def test_cache_refuses_an_unknown_comp_id(cache: CredentialCache) -> None:
    assert cache.check("MALLORY", "alice", "s3cret") == LogonVerdict(False, "unknown CompID MALLORY")


def test_cache_refuses_a_session_without_credentials(cache: CredentialCache) -> None:
    assert cache.check("SOLVER1", "alice", "s3cret") == LogonVerdict(False, "no credentials configured for SOLVER1")


@pytest.mark.parametrize(("username", "password"), [
    ("alice", "wrong"), ("bob", "s3cret"), ("bob", "wrong"), (None, "s3cret"), ("alice", None), (None, None),
    ("Alice", "s3cret"),
])
def test_cache_does_not_say_which_of_username_or_password_is_wrong(
        cache: CredentialCache, username: str | None, password: str | None) -> None:
    assert cache.check("REQ1", username, password) == LogonVerdict(False, "wrong username or password")


def test_cache_keeps_its_own_copy_of_the_credentials() -> None:
    credentials = {"REQ1": _credential("alice", "s3cret")}
    known = {"REQ1"}
    cache = CredentialCache(known, credentials)
    credentials.clear()
    known.clear()
    assert cache.check("REQ1", "alice", "s3cret").ok is True


def test_replace_swaps_sessions_and_credentials_together() -> None:
    cache = CredentialCache({"REQ1"}, {"REQ1": _credential("alice", "one")})
    cache.replace({"REQ1", "SOLVER1"}, {"REQ1": _credential("alice", "two"), "SOLVER1": _credential("sol", "x")})
    assert cache.check("REQ1", "alice", "one") == LogonVerdict(False, "wrong username or password")
    assert cache.check("REQ1", "alice", "two").ok is True
    assert cache.check("SOLVER1", "sol", "x").ok is True


def test_concurrent_checks_during_replace_only_see_whole_snapshots() -> None:
    # Snapshot A knows only REQ1, snapshot B knows only SOLVER1. A torn read (B's sessions with
    # A's credentials, or the reverse) would show up as "no credentials configured for ...".
    snapshot_a = ({"REQ1"}, {"REQ1": _credential("alice", "a")})
    snapshot_b = ({"SOLVER1"}, {"SOLVER1": _credential("sol", "b")})
    cache = CredentialCache(*snapshot_a)
    allowed = {
        ("REQ1", "alice", "a"): {LogonVerdict(True, "ok"), LogonVerdict(False, "unknown CompID REQ1")},
        ("SOLVER1", "sol", "b"): {LogonVerdict(True, "ok"), LogonVerdict(False, "unknown CompID SOLVER1")},
    }
    unexpected: list[LogonVerdict] = []

    def read(attempt: tuple[str, str, str]) -> None:
        for _ in range(15):
            verdict = cache.check(*attempt)
            if verdict not in allowed[attempt]:
                unexpected.append(verdict)

    readers = [threading.Thread(target=read, args=(attempt,)) for attempt in allowed for _ in range(2)]
    for reader in readers:
        reader.start()
    swaps = 0
    while any(reader.is_alive() for reader in readers) and swaps < 100_000:
        cache.replace(*(snapshot_b if swaps % 2 == 0 else snapshot_a))
        swaps += 1
    for reader in readers:
        reader.join()
    assert unexpected == []
    assert swaps > 0
    cache.replace(*snapshot_b)
    assert cache.check("SOLVER1", "sol", "b").ok is True
    assert cache.check("REQ1", "alice", "a") == LogonVerdict(False, "unknown CompID REQ1")
