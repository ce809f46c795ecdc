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
class SessionOptions:
    """A session's sequence-number and heartbeat policy (README "Sessions and recovery").

    The default is a persistent session, as at KalshiRT and most brokers' order-entry
    sessions: sequence numbers survive disconnects and restarts, and messages generated
    while the counterparty is away are stored and resent when it asks (PossDupFlag=Y).
    They are reset by the daily roll (transport/fix/roll.py), or by a Logon with 141=Y."""

    heartbeat_s: int = 30  # HeartBtInt our initiators propose; an acceptor uses the counterparty's
    reset_on_logon: bool = False
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.heartbeat_s <= 300:
            raise ValueError(f"heartbeat_s must be 1..300 seconds, got {self.heartbeat_s}")

    def quickfix_settings(self) -> dict[str, str]:
        return {
            "HeartBtInt": str(self.heartbeat_s),
            "ResetOnLogon": _yes_no(self.reset_on_logon),
            "ResetOnLogout": _yes_no(self.reset_on_logout),
            "ResetOnDisconnect": _yes_no(self.reset_on_disconnect),
        }


def _yes_no(flag: bool) -> str:
    return "Y" if flag else "N"


@dataclass(frozen=True)
class SessionSpec:
    sender_comp_id: str
    target_comp_id: str
    extra: dict[str, str] = field(default_factory=dict)  # e.g. SocketConnectHost/Port of one initiator session
    options: SessionOptions | None = None  # None: the engine's defaults


# "file": QuickFIX's FileStore under the data directory (durable across restarts);
# "memory": nothing survives a restart (benchmarks and throwaway tools only).
STORE_KINDS = ("file", "memory")
# The file store keeps the offsets of only this many of the newest messages in memory; a resend of
# older ones reads them from its header file (QuickFIX/J's FileStoreMaxCachedMsgs and default, patched
# into QuickFIX 1.16 by tools/quickfix/patch_sources.py). Without a bound the index grows by ~64 bytes
# per message sent until the day's sequence reset.
DEFAULT_STORE_MAX_CACHED_MESSAGES = 10_000


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
    heartbeat_s: int | None = None  # shorthand for defaults.heartbeat_s
    reconnect_interval_s: int = 1
    defaults: SessionOptions = SessionOptions()
    store: str = "file"
    store_max_cached_messages: int = DEFAULT_STORE_MAX_CACHED_MESSAGES  # 0: every offset in memory

    @property
    def store_dir(self) -> Path:
        return self.data_dir / "fix" / self.name / "store"

    def render(self) -> str:
        if self.connection_type not in ("acceptor", "initiator"):
            raise ValueError(f"connection_type must be acceptor or initiator, got {self.connection_type!r}")
        if not self.sessions:
            raise ValueError(f"engine {self.name} needs at least one session")
        if self.store not in STORE_KINDS:
            raise ValueError(f"store must be one of {STORE_KINDS}, got {self.store!r}")
        defaults = (self.defaults if self.heartbeat_s is None
                    else SessionOptions(**{**self.defaults.__dict__, "heartbeat_s": self.heartbeat_s}))
        store = self.store_dir
        logs = self.data_dir / "fix" / self.name / "log"
        lines = [
            "[DEFAULT]",
            f"ConnectionType={self.connection_type}",
            "BeginString=FIX.4.4",
            # Sessions never end by QuickFIX's clock: it has no time zone, and a 17:00 New York
            # roll moves in UTC twice a year. transport/fix/roll.py resets them on schedule.
            "NonStopSession=Y",
            "UseDataDictionary=Y",
            f"DataDictionary={self.data_dictionary}",
            "ValidateUserDefinedFields=Y",
            "AllowUnknownMsgFields=N",
            f"ReconnectInterval={self.reconnect_interval_s}",
            f"# message store: {self.store}",
            f"FileStorePath={store}",
            f"FileStoreMaxCachedMsgs={self.store_max_cached_messages}",
            f"FileLogPath={logs}",
            "PersistMessages=Y",
            "SocketNodelay=Y",
        ]
        lines += [f"{key}={value}" for key, value in defaults.quickfix_settings().items()]
        if self.connection_type == "acceptor":
            lines += [f"SocketAcceptHost={self.host}", f"SocketAcceptPort={self.port}"]
        else:
            lines += [f"SocketConnectHost={self.host}", f"SocketConnectPort={self.port}"]
        for session in self.sessions:
            lines += ["", "[SESSION]", f"SenderCompID={session.sender_comp_id}",
                      f"TargetCompID={session.target_comp_id}"]
            if session.options is not None:
                lines += [f"{key}={value}" for key, value in session.options.quickfix_settings().items()]
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
