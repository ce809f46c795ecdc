"""What makes a first message an acceptable Logon, decided from its raw bytes.

Pure: the logon screen hands in the bytes it read and gets back either a
`LogonRequest` (framing, fields and identity are in order; credentials still to
be verified) or a `LogonRefusal` whose text goes back in a Logout (35=5). The
rules run before QuickFIX sees a byte, so nothing a peer sends before it is
authenticated can reset or touch a session (QuickFIX/J #474, QuickFIX/Go #410).
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from transport.fix.framing import FramingError, ParsedMessage, parse_message, printable, split_fields

FIX_VERSION = b"FIX.4.4"
REQUIRED_TAGS = {49: "SenderCompID", 56: "TargetCompID", 34: "MsgSeqNum", 52: "SendingTime",
                 98: "EncryptMethod", 108: "HeartBtInt"}
CREDENTIAL_TAGS = {553: "Username", 554: "Password"}
MAX_COMP_ID_CHARS = 64
MAX_CREDENTIAL_BYTES = 256  # longer than any real username or password; bounds the scrypt input
MIN_HEARTBEAT_S, MAX_HEARTBEAT_S = 1, 300
UTC_TIMESTAMP = re.compile(rb"^\d{8}-\d{2}:\d{2}:\d{2}(\.\d{3}|\.\d{6}|\.\d{9})?$")
PRINTABLE_ID = re.compile(rb"^[\x21-\x7e]+$")
WRONG_CREDENTIALS = "Rejected Logon Attempt: wrong username or password"


@dataclass(frozen=True)
class LogonRequest:
    sender: str
    msg_seq_num: int
    heartbeat_s: int
    reset_seq_num: bool  # 141=Y: the counterparty asks both sides to start again at 1
    username: bytes | None
    password: bytes | None


@dataclass(frozen=True)
class LogonRefusal:
    text: str
    reply_to: str | None  # the CompID the Logout is addressed to; None: close without answering


@dataclass(frozen=True)
class LogonTags:
    """Tags a FIX 4.4 Logon may carry, from the data dictionary QuickFIX validates against."""

    allowed: frozenset[int]
    repeatable: frozenset[int]  # members of the Logon's repeating group (NoMsgTypes)


@lru_cache(maxsize=4)
def logon_tags(data_dictionary: Path) -> LogonTags:
    root = ElementTree.parse(data_dictionary).getroot()
    numbers = {field.get("name"): int(field.get("number", "0")) for field in root.iter("field")
               if field.get("number")}
    allowed: set[int] = set()
    for part in ("header", "trailer"):
        section = root.find(part)
        assert section is not None, f"data dictionary without <{part}>"
        allowed.update(numbers[f.get("name", "")] for f in section.iter("field"))
    logon = next(m for m in root.iter("message") if m.get("msgtype") == "A")
    allowed.update(numbers[f.get("name", "")] for f in logon.iter("field"))
    repeatable = {numbers[f.get("name", "")] for group in logon.iter("group") for f in group.iter("field")}
    allowed.update(numbers[g.get("name", "")] for g in logon.iter("group"))
    return LogonTags(frozenset(allowed), frozenset(repeatable))


def comp_id_of(raw: bytes) -> str | None:
    """The SenderCompID of a message that may be broken, if it is a plausible CompID."""
    for item in raw.split(b"\x01"):
        tag, _, value = item.partition(b"=")
        if tag == b"49" and PRINTABLE_ID.match(value) and len(value) <= MAX_COMP_ID_CHARS:
            return value.decode("ascii")
    return None


def screen_logon(raw: bytes, gateway_comp_id: str, known: frozenset[str], tags: LogonTags,
                 credentials_required: bool) -> LogonRequest | LogonRefusal:
    """The verdict on a complete first message (framed by `FrameScanner`)."""
    sender = comp_id_of(raw)
    try:
        message = parse_message(raw)
    except FramingError as error:
        return LogonRefusal(f"invalid Logon: {error.reason}", sender)
    problem = (_version_problem(message) or _type_problem(message) or _field_problem(message, tags)
               or _identity_problem(message, gateway_comp_id, known))
    if problem is not None:
        return LogonRefusal(problem, sender)
    return _request(message, credentials_required)


def _version_problem(message: ParsedMessage) -> str | None:
    version = message.first(8) or b""
    if version != FIX_VERSION:
        return f"unsupported BeginString {printable(version, 16)}: this gateway speaks FIX.4.4"
    return None


def _type_problem(message: ParsedMessage) -> str | None:
    if message.msg_type != b"A":
        return "the first message must be a Logon (35=A)"
    return None


def _field_problem(message: ParsedMessage, tags: LogonTags) -> str | None:
    counts = Counter(tag for tag, _ in message.fields)
    for tag, _ in message.fields:
        if tag not in tags.allowed:
            return f"invalid Logon: tag {tag} is not defined for a Logon"
        if counts[tag] > 1 and tag not in tags.repeatable:
            return f"invalid Logon: tag {tag} appears more than once"
    for tag, name in REQUIRED_TAGS.items():
        if counts[tag] == 0:
            return f"invalid Logon: required tag {tag} ({name}) is missing"
    return None


def _identity_problem(message: ParsedMessage, gateway_comp_id: str, known: frozenset[str]) -> str | None:
    target = message.first(56) or b""
    if target != gateway_comp_id.encode("ascii"):
        return f"unknown TargetCompID {printable(target)}: this gateway is {gateway_comp_id}"
    sender = message.first(49) or b""
    if not PRINTABLE_ID.match(sender) or len(sender) > MAX_COMP_ID_CHARS or sender.decode("ascii") not in known:
        return f"unknown CompID {printable(sender)}"
    return None


def _request(message: ParsedMessage, credentials_required: bool) -> LogonRequest | LogonRefusal:
    sender = (message.first(49) or b"").decode("ascii")
    seq, heartbeat = message.first(34) or b"", message.first(108) or b""
    if not seq.isdigit() or len(seq) > 9 or int(seq) < 1:
        return LogonRefusal(f"invalid Logon: MsgSeqNum (34) {printable(seq, 16)} is not a positive integer", sender)
    if not heartbeat.isdigit() or len(heartbeat) > 4 or not MIN_HEARTBEAT_S <= int(heartbeat) <= MAX_HEARTBEAT_S:
        return LogonRefusal(f"invalid Logon: HeartBtInt (108) must be {MIN_HEARTBEAT_S}..{MAX_HEARTBEAT_S} "
                            f"seconds, got {printable(heartbeat, 16)}", sender)
    if message.first(98) != b"0":
        return LogonRefusal("invalid Logon: EncryptMethod (98) must be 0 (use TLS to encrypt the session)", sender)
    if not UTC_TIMESTAMP.match(message.first(52) or b""):
        return LogonRefusal("invalid Logon: SendingTime (52) is not a UTCTimestamp", sender)
    reset = message.first(141)
    if reset not in (None, b"Y", b"N"):
        return LogonRefusal("invalid Logon: ResetSeqNumFlag (141) must be Y or N", sender)
    username, password = message.first(553), message.first(554)
    if credentials_required and (username is None or password is None):
        return LogonRefusal("Rejected Logon Attempt: Username (553) and Password (554) are required", sender)
    if any(value is not None and len(value) > MAX_CREDENTIAL_BYTES for value in (username, password)):
        return LogonRefusal(WRONG_CREDENTIALS, sender)
    return LogonRequest(sender=sender, msg_seq_num=int(seq), heartbeat_s=int(heartbeat), reset_seq_num=reset == b"Y",
                        username=username, password=password)


def fields_of_partial(raw: bytes) -> list[tuple[int, bytes]]:
    """Fields of an incomplete message, as far as they parse (to address a Logout to its sender)."""
    complete = raw[:raw.rfind(b"\x01") + 1]
    try:
        return split_fields(complete) if complete else []
    except FramingError:
        return []
