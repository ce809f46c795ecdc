"""Exactly-once intake: how far the engine has processed each counterparty's messages.

QuickFIX counts a message as received as soon as the application callback returns; the engine
commits it later. The engine therefore records, in the same transaction as a message's effects,
the session's last processed MsgSeqNum. After a crash the gateway sets each session's next
expected MsgSeqNum from this record, so the counterparty resends whatever QuickFIX had counted
but the engine never committed (README "Sessions and recovery").

`epoch` names the sequence numbers' generation: when they last started at 1 (the FIX store's
creation time, to the second). A record from an older generation says nothing about the current one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SessionProgress:
    epoch: datetime
    last_seq: int  # 0: nothing processed in this generation yet

    def __post_init__(self) -> None:
        assert self.last_seq >= 0, f"a MsgSeqNum is never negative: {self.last_seq}"

    def covers(self, seq: int) -> bool:
        """A message with this MsgSeqNum was processed already (a resend of it changes nothing)."""
        return seq <= self.last_seq

    def advanced_to(self, seq: int) -> SessionProgress:
        return SessionProgress(self.epoch, max(self.last_seq, seq))


def at_logon(known: SessionProgress | None, epoch: datetime, next_expected_seq: int) -> SessionProgress:
    """The progress to go on with when a session logs on.

    Kept when it belongs to this generation and lies behind what QuickFIX expects next (messages
    QuickFIX counted may still be on their way through the engine). Otherwise the sequence numbers
    were reset since (a Logon with 141=Y, the daily roll) -- or nothing was ever recorded -- and
    everything below what QuickFIX expects next is behind us: the Logon itself after a reset."""
    if known is not None and known.epoch == epoch and known.last_seq < next_expected_seq:
        return known
    return SessionProgress(epoch, max(next_expected_seq - 1, 0))
