"""Typed, read-only access to a QuickFIX message.

Only the per-family codec modules use this; nothing else touches FIX fields.
Values come back as str/Decimal/datetime; numbers are never floats.
"""
from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal

import quickfix as fix

from transport.fix.errors import VALUE_INCORRECT, BadFieldFormat, BadFieldValue, MissingField

UTC_TIMESTAMP_FORMATS = ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S")
# Identifiers (QuoteReqID, ClOrdID, QuoteID, ExecID, ...) fit the 64-character id columns and
# are echoed in replies: printable ASCII only, so a reply never carries bytes we did not vet.
MAX_ID_CHARS = 64
MAX_SYMBOL_CHARS = 32
MAX_TEXT_CHARS = 256
# Prices and quantities are stored exactly in NUMERIC(38, 12): at most 12 fraction digits and
# 26 integer digits. FIX floats are plain digits with an optional sign and point, no exponent.
MAX_FRACTION_DIGITS = 12
MAX_INTEGER_DIGITS = 26
MAX_NUMBER_CHARS = 64
PLAIN_DECIMAL = re.compile(r"^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)$")
PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]+$")


class FixReader:
    """Reads fields from a message body (or a repeating-group entry)."""

    def __init__(self, field_map: fix.FieldMap) -> None:
        self._map = field_map

    def has(self, tag: int) -> bool:
        return bool(self._map.isSetField(tag))

    def _get(self, tag: int) -> str:
        """The raw value; bytes that are not UTF-8 come back as lone surrogates (or are refused here)."""
        try:
            return str(self._map.getField(tag))
        except UnicodeDecodeError:
            raise BadFieldFormat(tag, "the value is not printable ASCII") from None

    def text(self, tag: int) -> str:
        """A code or short value (Side, MsgType, ...): printable ASCII; codecs check the allowed values."""
        if not self._map.isSetField(tag):
            raise MissingField(tag)
        return checked_ascii(tag, self._get(tag), MAX_ID_CHARS, "value")

    def optional_text(self, tag: int) -> str | None:
        return self.text(tag) if self._map.isSetField(tag) else None

    def identifier(self, tag: int, max_chars: int = MAX_ID_CHARS) -> str:
        """An id the counterparty chose: printable ASCII, 1..max_chars characters."""
        if not self._map.isSetField(tag):
            raise MissingField(tag)
        return checked_ascii(tag, self._get(tag), max_chars, "an identifier")

    def optional_identifier(self, tag: int, max_chars: int = MAX_ID_CHARS) -> str | None:
        return self.identifier(tag, max_chars) if self._map.isSetField(tag) else None

    def free_text(self, tag: int, max_chars: int = MAX_TEXT_CHARS) -> str | None:
        """Text (58) and the like: kept only as printable ASCII, truncated, never refused."""
        if not self._map.isSetField(tag):
            return None
        try:
            raw = self._get(tag)
        except BadFieldFormat:
            return None
        cleaned = "".join(char if " " <= char <= "~" else "?" for char in raw[:max_chars])
        return cleaned or None

    def decimal(self, tag: int) -> Decimal:
        if not self._map.isSetField(tag):
            raise MissingField(tag)
        return parse_decimal(tag, self._get(tag))

    def optional_decimal(self, tag: int) -> Decimal | None:
        return self.decimal(tag) if self._map.isSetField(tag) else None

    def optional_timestamp(self, tag: int) -> datetime | None:
        raw = self.optional_text(tag)
        return None if raw is None else parse_utc_timestamp(tag, raw)

    def group(self, count_tag: int, delimiter_tag: int, member_tags: list[int]) -> list["FixReader"]:
        """Entries of a repeating group, in order."""
        if not self._map.isSetField(count_tag):
            return []
        raw_count = self._get(count_tag)
        if not raw_count.isdigit() or len(raw_count) > 3:
            raise BadFieldFormat(count_tag, "not a group count")
        count = int(raw_count)
        order = fix.IntArray(len(member_tags) + 1)
        for index, tag in enumerate(member_tags):
            order[index] = tag
        order[len(member_tags)] = 0
        entries = []
        for number in range(1, count + 1):
            entry = fix.Group(count_tag, delimiter_tag, order)
            fix.FieldMap.getGroup(self._map, number, count_tag, entry)
            entries.append(FixReader(entry))
        return entries


def checked_ascii(tag: int, raw: str, max_chars: int, what: str) -> str:
    """`raw` if it is 1..max_chars printable ASCII characters; BadFieldFormat naming the tag otherwise.

    QuickFIX hands over bytes that are not UTF-8 as lone surrogates; they fail here like any other
    non-ASCII character."""
    if len(raw) > max_chars:
        raise BadFieldFormat(tag, f"{what} is at most {max_chars} characters, got {len(raw)}", VALUE_INCORRECT)
    if not PRINTABLE_ASCII.match(raw):
        raise BadFieldFormat(tag, f"{what} must be printable ASCII")
    return raw


def parse_decimal(tag: int, raw: str) -> Decimal:
    """A FIX float as an exact Decimal the store can keep; refused (naming the tag) otherwise."""
    if len(raw) > MAX_NUMBER_CHARS:
        raise BadFieldFormat(tag, f"a number of {len(raw)} characters is too long")
    if not PLAIN_DECIMAL.match(raw):
        if "e" in raw.lower() and any(char.isdigit() for char in raw):
            raise BadFieldFormat(tag, "exponent notation is not accepted; send plain digits")
        shown = raw if PRINTABLE_ASCII.match(raw) else "(not printable ASCII)"
        raise BadFieldFormat(tag, f"{shown!r} is not a decimal number")
    integer_part, _, fraction_part = raw.lstrip("-").partition(".")
    # Counted on the text, not with Decimal.normalize(): that rounds to the 28-digit default context.
    if len(fraction_part.rstrip("0")) > MAX_FRACTION_DIGITS:
        raise BadFieldFormat(tag, f"at most {MAX_FRACTION_DIGITS} decimal places", VALUE_INCORRECT)
    if len(integer_part.lstrip("0")) > MAX_INTEGER_DIGITS:
        raise BadFieldFormat(tag, f"at most {MAX_INTEGER_DIGITS} integer digits", VALUE_INCORRECT)
    value = Decimal(raw)
    return value


def parse_utc_timestamp(tag: int, raw: str) -> datetime:
    checked_ascii(tag, raw, 32, "a UTCTimestamp")
    for pattern in UTC_TIMESTAMP_FORMATS:
        try:
            return datetime.strptime(raw, pattern).replace(tzinfo=timezone.utc)
        except ValueError:
            continue
    raise BadFieldValue(tag, raw, "a UTCTimestamp")


def format_utc_timestamp(moment: datetime) -> str:
    """UTCTimestamp with milliseconds, as FIX 4.4 expects."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y%m%d-%H:%M:%S.") + f"{utc.microsecond // 1000:03d}"


def format_decimal(value: Decimal) -> str:
    """Plain notation, no exponent, no trailing zeros beyond what the value carries."""
    text = format(value.normalize(), "f")
    return text
