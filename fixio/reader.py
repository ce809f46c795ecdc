"""Typed, read-only access to a QuickFIX message.

Only the per-family codec modules use this; nothing else touches FIX fields.
Values come back as str/Decimal/datetime; numbers are never floats.
"""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation

import quickfix as fix

from fixio.errors import BadFieldValue, MissingField

UTC_TIMESTAMP_FORMATS = ("%Y%m%d-%H:%M:%S.%f", "%Y%m%d-%H:%M:%S")


class FixReader:
    """Reads fields from a message body (or a repeating-group entry)."""

    def __init__(self, field_map: fix.FieldMap) -> None:
        self._map = field_map

    def has(self, tag: int) -> bool:
        return bool(self._map.isSetField(tag))

    def text(self, tag: int) -> str:
        if not self._map.isSetField(tag):
            raise MissingField(tag)
        return self._map.getField(tag)

    def optional_text(self, tag: int) -> str | None:
        return self._map.getField(tag) if self._map.isSetField(tag) else None

    def decimal(self, tag: int) -> Decimal:
        return parse_decimal(tag, self.text(tag))

    def optional_decimal(self, tag: int) -> Decimal | None:
        raw = self.optional_text(tag)
        return None if raw is None else parse_decimal(tag, raw)

    def optional_timestamp(self, tag: int) -> datetime | None:
        raw = self.optional_text(tag)
        return None if raw is None else parse_utc_timestamp(tag, raw)

    def group(self, count_tag: int, delimiter_tag: int, member_tags: list[int]) -> list["FixReader"]:
        """Entries of a repeating group, in order."""
        if not self._map.isSetField(count_tag):
            return []
        count = int(self._map.getField(count_tag))
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


def parse_decimal(tag: int, raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise BadFieldValue(tag, raw, "a decimal number") from None
    if not value.is_finite():
        raise BadFieldValue(tag, raw, "a finite decimal number")
    return value


def parse_utc_timestamp(tag: int, raw: str) -> datetime:
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
