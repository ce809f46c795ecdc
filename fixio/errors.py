"""Precise exception types for reading FIX messages at the boundary."""
from __future__ import annotations


class FixDecodeError(Exception):
    """A message could not be translated into a domain command."""

    def __init__(self, tag: int, reason: str) -> None:
        super().__init__(f"tag {tag}: {reason}")
        self.tag = tag
        self.reason = reason


class MissingField(FixDecodeError):
    def __init__(self, tag: int) -> None:
        super().__init__(tag, "required field missing")


class BadFieldValue(FixDecodeError):
    def __init__(self, tag: int, value: str, expected: str) -> None:
        super().__init__(tag, f"value {value!r} is not {expected}")
        self.value = value
