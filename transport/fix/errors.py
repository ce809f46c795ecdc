"""Precise exception types for reading FIX messages at the boundary.

Each carries the tag it refuses, why (in words for the counterparty's Text), and the
SessionRejectReason (373) a session-level Reject would carry."""
from __future__ import annotations

from transport.fix.dictionary import describe_tag

# SessionRejectReason (373)
VALUE_INCORRECT = 5  # the value is well formed but out of range or not allowed here
# 6 (IncorrectDataFormat) is not used: the dialect answers every refused value with 5 and a Text saying why.
OTHER = 99


class FixDecodeError(Exception):
    """A message could not be translated into a domain command."""

    def __init__(self, tag: int, reason: str, session_reject_reason: int = VALUE_INCORRECT) -> None:
        super().__init__(f"tag {tag}: {reason}")
        self.tag = tag
        self.reason = reason
        self.session_reject_reason = session_reject_reason

    @property
    def text(self) -> str:
        """The reject's Text (58): names the tag and says why."""
        return f"tag {describe_tag(self.tag)}: {self.reason}"


class MissingField(FixDecodeError):
    def __init__(self, tag: int) -> None:
        super().__init__(tag, "required field missing")


class BadFieldValue(FixDecodeError):
    def __init__(self, tag: int, value: str, expected: str, session_reject_reason: int = VALUE_INCORRECT) -> None:
        super().__init__(tag, f"value {value!r} is not {expected}", session_reject_reason)
        self.value = value


class BadFieldFormat(FixDecodeError):
    """A value that breaks the boundary's rules (charset, length, digits); `reason` is the full text."""

    def __init__(self, tag: int, reason: str, session_reject_reason: int = VALUE_INCORRECT) -> None:
        super().__init__(tag, reason, session_reject_reason)
