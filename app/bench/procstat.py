"""What the parent measures of each process from outside, from Linux's /proc (no extra dependency:
two files per process are all it needs): CPU seconds, current and peak resident memory; and how
many FIX messages the gateway logged (QuickFIX's message log has one line per message in or out)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcSample:
    cpu_s: float  # user + system
    rss_kb: int  # VmRSS
    peak_rss_kb: int  # VmHWM: the peak resident set since the process started


def sample(pid: int) -> ProcSample | None:
    """The process's CPU and memory now; None when it is gone (or this is not Linux)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) ": state is fields[0]
    cpu_s = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime (stat fields 14, 15)
    memory = {}
    for line in status.splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            memory[key] = int(value.split()[0])
    return ProcSample(cpu_s, memory.get("VmRSS", 0), memory.get("VmHWM", 0))


class FixLogCounter:
    """Counts the lines QuickFIX appended to the `*.messages.current.log` files of one engine:
    every message the engine received or sent (heartbeats and logons included)."""

    def __init__(self, log_dir: Path) -> None:
        self._log_dir = log_dir
        self._offsets: dict[Path, int] = {}
        self.total = 0

    def poll(self) -> int:
        """Reads what was appended since the last call; the running total of messages."""
        if not self._log_dir.is_dir():
            return self.total
        for path in self._log_dir.glob("*.messages.current.log"):
            offset = self._offsets.get(path, 0)
            with path.open("rb") as log:
                log.seek(offset)
                while chunk := log.read(1 << 20):
                    self.total += chunk.count(b"\n")
                    offset += len(chunk)
            self._offsets[path] = offset
        return self.total

    def saw_logon(self, counterparty: str) -> bool:
        """Whether the engine's log shows a Logon from `counterparty` (SenderCompID 49)."""
        sender = f"\x0149={counterparty}\x01".encode()
        for path in self._log_dir.glob(f"*-{counterparty}.messages.current.log"):
            if any(b"\x0135=A\x01" in line and sender in line for line in path.read_bytes().splitlines()):
                return True
        return False
