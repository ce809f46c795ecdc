"""Start and stop one QuickFIX engine (acceptor or initiator)."""
from __future__ import annotations

import quickfix as fix

from fixio.application import GuardedApplication
from fixio.settings_builder import EngineSpec


class FixEngine:
    def __init__(self, spec: EngineSpec, application: GuardedApplication) -> None:
        self.spec = spec
        self.application = application
        # QuickFIX keeps raw pointers to these: hold references for the engine's life.
        self._settings = spec.build()
        self._store = fix.FileStoreFactory(self._settings)
        self._logs = fix.FileLogFactory(self._settings)
        engine_type = fix.SocketAcceptor if spec.connection_type == "acceptor" else fix.SocketInitiator
        self._engine = engine_type(application, self._store, self._settings, self._logs)
        self._running = False

    def start(self) -> None:
        self._engine.start()
        self._running = True

    def stop(self) -> None:
        if self._running:
            self._running = False
            self._engine.stop()

    def is_logged_on(self) -> bool:
        return bool(self._engine.isLoggedOn())
