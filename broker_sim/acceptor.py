"""The venue's QuickFIX acceptor engine.

Why not fixio.engine.FixEngine: it builds a fix.SocketAcceptor, whose stop() races with its
own thread (Acceptor::stop calls onStop() before joining the thread, and SocketAcceptor's
thread deletes the socket server that onStop() is closing: quickfix/quickfix PR #740). The
venue is stopped and started repeatedly in tests, where that race segfaulted the process.
ThreadedSocketAcceptor tears down by closing sockets and joining its threads, without the race.
Once fixio's acceptor switches to ThreadedSocketAcceptor this module can go.
"""
from __future__ import annotations

import quickfix as fix

from fixio.application import GuardedApplication
from fixio.settings_builder import EngineSpec


class ThreadedAcceptorEngine:
    def __init__(self, spec: EngineSpec, application: GuardedApplication) -> None:
        assert spec.connection_type == "acceptor", "the venue only accepts connections"
        self.spec = spec
        self.application = application
        # QuickFIX keeps raw pointers to these: hold references for the engine's life.
        self._settings = spec.build()
        self._store = fix.FileStoreFactory(self._settings)
        self._logs = fix.FileLogFactory(self._settings)
        self._acceptor: fix.ThreadedSocketAcceptor | None = fix.ThreadedSocketAcceptor(
            application, self._store, self._settings, self._logs)
        self._running = False

    def start(self) -> None:
        assert self._acceptor is not None, "a closed engine cannot start"
        self._acceptor.start()
        self._running = True

    def close(self) -> None:
        """Stop and release QuickFIX's objects at once: an acceptor destroyed later by the garbage
        collector would erase a newer session with the same SessionID from QuickFIX's registry."""
        if self._acceptor is None:
            return
        if self._running:
            self._running = False
            self._acceptor.stop()
        self._acceptor = None

    def is_logged_on(self) -> bool:
        return self._acceptor is not None and bool(self._acceptor.isLoggedOn())
