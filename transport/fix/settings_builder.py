"""Builds QuickFIX SessionSettings text from typed application settings.

Ports and CompIDs live in config/, never in code; this module only renders
them in QuickFIX's own settings format, and writes the result beside the logs
so an operator can see exactly what each engine was started with.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import quickfix as fix


@dataclass(frozen=True)
class SessionSpec:
    sender_comp_id: str
    target_comp_id: str
    extra: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class EngineSpec:
    """One QuickFIX engine: an acceptor listening on a port, or an initiator."""

    name: str
    connection_type: str  # "acceptor" | "initiator"
    host: str
    port: int
    sessions: tuple[SessionSpec, ...]
    data_dir: Path
    data_dictionary: Path
    heartbeat_s: int = 30
    reconnect_interval_s: int = 1

    def render(self) -> str:
        if self.connection_type not in ("acceptor", "initiator"):
            raise ValueError(f"connection_type must be acceptor or initiator, got {self.connection_type!r}")
        if not self.sessions:
            raise ValueError(f"engine {self.name} needs at least one session")
        store = self.data_dir / "fix" / self.name / "store"
        logs = self.data_dir / "fix" / self.name / "log"
        lines = [
            "[DEFAULT]",
            f"ConnectionType={self.connection_type}",
            "BeginString=FIX.4.4",
            "StartTime=00:00:00",
            "EndTime=00:00:00",
            "UseDataDictionary=Y",
            f"DataDictionary={self.data_dictionary}",
            "ValidateUserDefinedFields=Y",
            "AllowUnknownMsgFields=N",
            f"HeartBtInt={self.heartbeat_s}",
            f"ReconnectInterval={self.reconnect_interval_s}",
            f"FileStorePath={store}",
            f"FileLogPath={logs}",
            "ResetOnLogon=Y",
            "ResetOnLogout=Y",
            "ResetOnDisconnect=Y",
            "SocketNodelay=Y",
        ]
        if self.connection_type == "acceptor":
            lines += [f"SocketAcceptHost={self.host}", f"SocketAcceptPort={self.port}"]
        else:
            lines += [f"SocketConnectHost={self.host}", f"SocketConnectPort={self.port}"]
        for session in self.sessions:
            lines += ["", "[SESSION]", f"SenderCompID={session.sender_comp_id}",
                      f"TargetCompID={session.target_comp_id}"]
            lines += [f"{key}={value}" for key, value in session.extra.items()]
        return "\n".join(lines) + "\n"

    def build(self) -> fix.SessionSettings:
        text = self.render()
        folder = self.data_dir / "fix" / self.name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "store").mkdir(exist_ok=True)
        (folder / "log").mkdir(exist_ok=True)
        path = folder / "quickfix.cfg"
        path.write_text(text)
        return fix.SessionSettings(str(path))


def session_id(sender: str, target: str) -> fix.SessionID:
    return fix.SessionID("FIX.4.4", sender, target)
