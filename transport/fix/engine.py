"""Start and stop one QuickFIX engine (acceptor or initiator).

The QuickFIX build must be the project's (1.16.0+rfq<N>, tools/quickfix/): stock 1.16
closes a connection's socket number while that connection's thread can still read it,
and the next socket opened anywhere in the process is then read by the dead connection.

Two more QuickFIX 1.16 hazards shape this class:
- SocketAcceptor.stop() races with its own thread and can segfault (quickfix
  PR #740); the threaded acceptor/initiator tear down by closing sockets and
  joining threads, without the race, so those are used.
- Destroying an engine removes its SessionIDs from QuickFIX's global session
  registry. An engine left to the garbage collector after a newer engine with
  the same SessionIDs started would erase the newer sessions, so stop()
  releases every QuickFIX object at once.
"""
from __future__ import annotations

from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version

import quickfix as fix

from transport.fix.application import GuardedApplication
from transport.fix.settings_builder import EngineSpec

REQUIRED_QUICKFIX_LOCAL_VERSION = "rfq3"  # tools/quickfix/patch_sources.py PATCH_LEVEL


class UnpatchedQuickFix(RuntimeError):
    """The installed QuickFIX lacks the fixes this project depends on (socket lifetime, bounded store index)."""


def check_quickfix_build() -> str:
    """The installed QuickFIX version; UnpatchedQuickFix unless it is the project's patched build."""
    try:
        installed = version("quickfix")
    except PackageNotFoundError:
        installed = "unknown"
    if not installed.endswith(f"+{REQUIRED_QUICKFIX_LOCAL_VERSION}"):
        raise UnpatchedQuickFix(
            f"quickfix {installed} is installed; this project needs 1.16.0+{REQUIRED_QUICKFIX_LOCAL_VERSION} "
            "(stock 1.16 can hand one connection's bytes to another). Build it with "
            "`tools/quickfix/build_wheel.sh python WHEELHOUSE` or run ./scripts/test once.")
    return installed


class FixEngine:
    def __init__(self, spec: EngineSpec, application: GuardedApplication) -> None:
        check_quickfix_build()
        self.spec = spec
        self.application = application
        # QuickFIX keeps raw pointers to these: hold references for the engine's life.
        self._settings = spec.build()
        self._store = (fix.MemoryStoreFactory() if spec.store == "memory"
                       else fix.FileStoreFactory(self._settings))
        self._logs = fix.FileLogFactory(self._settings)
        engine_type = (fix.ThreadedSocketAcceptor if spec.connection_type == "acceptor"
                       else fix.ThreadedSocketInitiator)
        self._engine = engine_type(application, self._store, self._settings, self._logs)
        self._running = False

    def start(self) -> None:
        assert self._engine is not None, "a stopped engine cannot start again; build a new one"
        self._engine.start()
        self._running = True

    def stop(self) -> None:
        if self._engine is None:
            return
        if self._running:
            self._running = False
            self._engine.stop()
        self._engine = None  # destroyed now (reference count), before any newer engine's sessions exist
        self._logs = self._store = self._settings = None

    def store_created_at(self, session_id: fix.SessionID) -> datetime | None:
        """When the session's sequence numbers last started at 1: its FileStore's creation time, to the
        second, read from the store's `.session` file (QuickFIX's Python binding cannot reach the
        store object itself). None for a memory store, which never outlives the process anyway."""
        if self.spec.store != "file":
            return None
        name = (f"{session_id.getBeginString().getValue()}-{session_id.getSenderCompID().getValue()}-"
                f"{session_id.getTargetCompID().getValue()}.session")
        try:
            text = (self.spec.store_dir / name).read_text().strip()
        except FileNotFoundError:
            return None
        return datetime.strptime(text[:17], "%Y%m%d-%H:%M:%S").replace(tzinfo=timezone.utc)

    def is_logged_on(self) -> bool:
        return self._engine is not None and bool(self._engine.isLoggedOn())
