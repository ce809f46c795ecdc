"""FIX logon credentials: salted scrypt hashes in SQL, checked from an in-memory cache.

QuickFIX calls fromAdmin (where a Logon is checked) on its own threads, so the check must not
touch SQL: the engine thread loads `CredentialStore.all()` and swaps it into a `CredentialCache`.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core.clock import Now, utc_now
from db.engine import affected_rows
from gateway.access.models import USERNAME_LENGTH, SessionCredentialRow

log = structlog.get_logger(__name__)

ALGORITHM = "scrypt"
# 8 MiB of memory and roughly 25 ms per hash on a small 2-core host: the check runs on a QuickFIX
# thread during logon, so it must stay cheap, while still costing an offline guesser real work.
SCRYPT_N = 2**13
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
HASH_BYTES = 32
# Encodings come from the database: refuse parameters that would make one check slow or huge.
MAX_SCRYPT_N = 2**16
MAX_SCRYPT_R = 16
MAX_SCRYPT_P = 4
SCRYPT_MAXMEM_BYTES = 256 * 1024 * 1024
# Longer credentials are refused before any hashing (the logon screen's bound is the same).
MAX_PASSWORD_BYTES = 256
MAX_USERNAME_BYTES = 256


class CredentialError(ValueError):
    """A credential an operator tried to store is not acceptable."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: bytes, salt: bytes, n: int, r: int, p: int, length: int) -> bytes:
    return hashlib.scrypt(password, salt=salt, n=n, r=r, p=p, maxmem=SCRYPT_MAXMEM_BYTES, dklen=length)


def _as_bytes(value: str | bytes) -> bytes:
    """Credentials are compared as bytes: a str is its UTF-8 encoding, bytes are taken as they came.

    Bytes that are not valid UTF-8 can therefore never equal a configured (str) credential."""
    # surrogateescape: QuickFIX hands over undecodable bytes as lone surrogates; they become those bytes again.
    return value.encode("utf-8", "surrogateescape") if isinstance(value, str) else value


def hash_password(password: str) -> str:
    """`scrypt$n=8192,r=8,p=1$<salt b64>$<hash b64>` with a fresh random salt."""
    if not isinstance(password, str) or not password:
        raise CredentialError("a password must be a non-empty string")
    if _has_control_bytes(password.encode("utf-8")):
        raise CredentialError("a password must not contain control characters")
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        raise CredentialError(f"a password is at most {MAX_PASSWORD_BYTES} bytes in UTF-8")
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(password.encode("utf-8"), salt, SCRYPT_N, SCRYPT_R, SCRYPT_P, HASH_BYTES)
    parameters = f"n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}"
    return f"{ALGORITHM}${parameters}${_b64(salt)}${_b64(digest)}"


@dataclass(frozen=True)
class _ScryptEncoding:
    n: int
    r: int
    p: int
    salt: bytes
    digest: bytes


def _parse_parameters(text: str) -> tuple[int, int, int]:
    fields = dict(item.split("=", 1) for item in text.split(","))
    if set(fields) != {"n", "r", "p"}:
        raise ValueError(f"unexpected scrypt parameters {text!r}")
    n, r, p = int(fields["n"]), int(fields["r"]), int(fields["p"])
    power_of_two = n > 1 and n & (n - 1) == 0
    if not (power_of_two and n <= MAX_SCRYPT_N and 1 <= r <= MAX_SCRYPT_R and 1 <= p <= MAX_SCRYPT_P):
        raise ValueError(f"scrypt parameters out of bounds: {text!r}")
    return n, r, p


def _parse_encoding(encoded: str) -> _ScryptEncoding:
    algorithm, parameters, salt_text, digest_text = encoded.split("$")
    if algorithm != ALGORITHM:
        raise ValueError(f"unsupported algorithm {algorithm!r}")
    n, r, p = _parse_parameters(parameters)
    salt = base64.b64decode(salt_text, validate=True)
    digest = base64.b64decode(digest_text, validate=True)
    # Exact lengths: scrypt output for a shorter dklen is a prefix of the longer one, so a
    # truncated stored hash would still "verify" against fewer bits.
    if len(salt) != SALT_BYTES or len(digest) != HASH_BYTES:
        raise ValueError("salt or hash has an unexpected length")
    return _ScryptEncoding(n, r, p, salt, digest)


def verify_password(password: str | bytes, encoded: str) -> bool:
    """True if `password` matches; False (never an exception) for anything malformed, tampered or too long."""
    if not isinstance(password, (str, bytes)) or not isinstance(encoded, str):
        return False
    candidate_bytes = _as_bytes(password)
    if not candidate_bytes or len(candidate_bytes) > MAX_PASSWORD_BYTES:
        return False
    try:
        parsed = _parse_encoding(encoded)
    except (ValueError, binascii.Error):
        return False
    candidate = _scrypt(candidate_bytes, parsed.salt, parsed.n, parsed.r, parsed.p, HASH_BYTES)
    return hmac.compare_digest(candidate, parsed.digest)


@dataclass(frozen=True)
class StoredCredential:
    username: str
    password_hash: str  # the encoded scrypt hash, never the password
    updated_at: datetime


class CredentialStore:
    """SQL access to session_credentials; the caller owns the transaction (no commit here)."""

    def __init__(self, session: Session, clock: Now = utc_now) -> None:
        self._session = session
        self._clock = clock

    def set_password(self, comp_id: str, username: str, password: str) -> None:
        if not comp_id:
            raise CredentialError("comp_id must not be empty")
        if not 0 < len(username) <= USERNAME_LENGTH or not username.isprintable():
            raise CredentialError(f"a username is 1..{USERNAME_LENGTH} printable characters")
        row = SessionCredentialRow(comp_id=comp_id, username=username, password_hash=hash_password(password),
                                   updated_at=self._clock())
        self._session.merge(row)
        self._session.flush()
        log.info("session_credentials_set", comp_id=comp_id, username=username)

    def remove(self, comp_id: str) -> bool:
        """Delete the credentials of `comp_id`; False if it had none."""
        deleted = self._session.execute(delete(SessionCredentialRow).where(SessionCredentialRow.comp_id == comp_id))
        removed = affected_rows(deleted)
        log.info("session_credentials_removed", comp_id=comp_id, removed=removed)
        return bool(removed)

    def all(self) -> dict[str, StoredCredential]:
        rows = self._session.scalars(select(SessionCredentialRow).order_by(SessionCredentialRow.comp_id))
        return {row.comp_id: StoredCredential(row.username, row.password_hash, row.updated_at) for row in rows}


@dataclass(frozen=True)
class LogonVerdict:
    ok: bool
    text: str


@dataclass(frozen=True)
class _Snapshot:
    known_comp_ids: frozenset[str]
    credentials: Mapping[str, StoredCredential]


def _snapshot(known_comp_ids: Iterable[str], credentials: Mapping[str, StoredCredential]) -> _Snapshot:
    return _Snapshot(frozenset(known_comp_ids), MappingProxyType(dict(credentials)))


# A credential verified this recently is recognised again by a SHA-256 digest instead of a second
# scrypt: the logon screen and QuickFIX's logon callback both check every Logon.
VERIFIED_FOR_S = 30.0


def _has_control_bytes(value: bytes) -> bool:
    """NUL and other control bytes never match: scrypt's HMAC pads short keys with NUL, so "pw" and
    "pw\x00" would hash alike."""
    return any(byte < 0x20 or byte == 0x7F for byte in value)


class CredentialCache:
    """Logon checks against an immutable snapshot; `replace` swaps the whole snapshot at once.

    Sessions without stored credentials are refused (fail closed): a configured session nobody
    gave a password to should not be able to log on with any password.
    """

    def __init__(self, known_comp_ids: Iterable[str], credentials: Mapping[str, StoredCredential],
                 monotonic_s: Callable[[], float] = time.monotonic) -> None:
        self._lock = threading.Lock()
        self._snapshot = _snapshot(known_comp_ids, credentials)
        self._monotonic_s = monotonic_s
        self._verified: dict[str, tuple[bytes, float]] = {}  # comp_id -> (digest, verified at)

    def replace(self, known_comp_ids: Iterable[str], credentials: Mapping[str, StoredCredential]) -> None:
        fresh = _snapshot(known_comp_ids, credentials)
        with self._lock:
            if fresh.credentials != self._snapshot.credentials:
                self._verified.clear()  # a changed password must be verified again
            self._snapshot = fresh

    def check(self, comp_id: str, username: str | bytes | None, password: str | bytes | None) -> LogonVerdict:
        """The verdict on one Logon. Fails closed: any error refuses the Logon, it never lets it through."""
        try:
            return self._check(comp_id, username, password)
        except Exception:  # noqa: BLE001 - a broken check must refuse, never accept
            log.exception("logon_check_failed", session=comp_id)
            return LogonVerdict(False, "logon check failed")

    def _check(self, comp_id: str, username: str | bytes | None, password: str | bytes | None) -> LogonVerdict:
        with self._lock:
            snapshot = self._snapshot
        # The scrypt work runs outside the lock: concurrent logons must not queue behind each other.
        if comp_id not in snapshot.known_comp_ids:
            return LogonVerdict(False, f"unknown CompID {comp_id}")
        stored = snapshot.credentials.get(comp_id)
        if stored is None:
            return LogonVerdict(False, f"no credentials configured for {comp_id}")
        given_username = _as_bytes(username or b"")
        given_password = _as_bytes(password or b"")
        if _has_control_bytes(given_username) or _has_control_bytes(given_password):
            return LogonVerdict(False, "wrong username or password")
        digest = hashlib.sha256(len(given_username).to_bytes(4, "big") + given_username + given_password).digest()
        if self._recently_verified(comp_id, digest):
            return LogonVerdict(True, "ok")
        # Both checks always run so neither the verdict nor the timing tells which one failed.
        username_ok = (len(given_username) <= MAX_USERNAME_BYTES
                       and hmac.compare_digest(given_username, stored.username.encode("utf-8")))
        password_ok = verify_password(given_password, stored.password_hash)
        if username_ok and password_ok:
            with self._lock:
                self._verified[comp_id] = (digest, self._monotonic_s())
            return LogonVerdict(True, "ok")
        return LogonVerdict(False, "wrong username or password")

    def _recently_verified(self, comp_id: str, digest: bytes) -> bool:
        with self._lock:
            remembered = self._verified.get(comp_id)
        if remembered is None or self._monotonic_s() - remembered[1] > VERIFIED_FOR_S:
            return False
        return hmac.compare_digest(remembered[0], digest)
