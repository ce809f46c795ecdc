"""Composition of the operator console and the metrics: with a running Stack (`serve`, `demo
--keep-console`) or on their own against the database (`rfq-gateway console`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session, sessionmaker

from app.processes import wait_for_stop
from app.settings import ConsoleSection, Settings
from app.stack import Stack
from core.clock import Clock, SystemClock
from db.engine import create_db_engine, session_factory, upgrade_to_head
from gateway.domain.policy import Role
from ops.console.actions import OperatorActions
from ops.console.app import ConsoleDeps, create_console_app
from ops.console.auth import OperatorLogin, SessionStore
from ops.console.feed import LiveFeed, SharedSnapshot
from ops.console.server import ConsoleServer
from ops.console.snapshot import ConsoleScope, Snapshot, read_snapshot
from ops.metrics import GatewayMetrics
from ops.sessions_view import ConfiguredSession, FileSessionSource

log = structlog.get_logger(__name__)


class ConsoleNotConfigured(Exception):
    """No operator password: the console is not served."""


@dataclass
class Monitoring:
    """What watches a running stack: the metrics and the console's feed (both engine commit observers)."""

    metrics: GatewayMetrics
    feed: LiveFeed
    sessions: FileSessionSource


def session_source(settings: Settings, database: sessionmaker[Session],
                   live: Callable[[], set[str]] | None = None) -> FileSessionSource:
    configured = [ConfiguredSession(s.comp_id, Role(s.role).value, s.account) for s in settings.sessions]
    return FileSessionSource(configured, settings.gateway.comp_id, settings.resolved_data_dir(), database, live)


def attach_monitoring(stack: Stack) -> Monitoring:
    """Call before stack.start(): the observers see every commit from the first one."""
    metrics = GatewayMetrics()
    feed = LiveFeed()
    sessions = session_source(stack.settings, stack.sessions, stack.application.live_sessions)
    book = stack.engine.book
    metrics.seed((rfq, bool(book.quotes(rfq.rfq_id))) for rfq in book.open_rfqs())
    stack.engine.add_observer(metrics.observe)
    stack.engine.add_observer(feed.observe)
    metrics.time_commits(stack.sessions)
    metrics.watch(queue_depth=lambda: len(stack.worker), sessions=sessions, database=stack.sessions)
    return Monitoring(metrics, feed, sessions)


def _scope(settings: Settings) -> ConsoleScope:
    solvers = tuple(s.comp_id for s in settings.sessions if Role(s.role).can_quote())
    return ConsoleScope(solvers, settings.broker.margin_bps, settings.broker.aggression_bps)


def build_console(settings: Settings, database: sessionmaker[Session], clock: Clock, feed: LiveFeed,
                  sessions: FileSessionSource, metrics: GatewayMetrics | None = None,
                  config: ConsoleSection | None = None) -> ConsoleServer:
    config = config or settings.console
    if config.password is None or not config.password.get_secret_value():
        raise ConsoleNotConfigured("the console needs an operator password: set RFQ_CONSOLE__PASSWORD "
                                   "(or [console] password in the config file)")
    scope = _scope(settings)

    def read(with_quality: bool) -> Snapshot:
        rows = sessions.rows()
        with database() as session:
            return read_snapshot(session, rows, scope, clock.now(), with_quality)

    deps = ConsoleDeps(
        snapshots=SharedSnapshot(read, feed, config.refresh_s), feed=feed,
        actions=OperatorActions(database, scope.solver_ids, settings.broker.comp_id, clock.now),
        sessions=SessionStore(OperatorLogin(config.username, config.password.get_secret_value())),
        metrics=metrics.exposition if metrics is not None else None, secure_cookie=config.secure_cookie)
    return ConsoleServer(create_console_app(deps), config.host, config.port)


def start_stack_console(stack: Stack, monitoring: Monitoring) -> ConsoleServer:
    return build_console(stack.settings, stack.sessions, stack.clock, monitoring.feed, monitoring.sessions,
                         monitoring.metrics).start()


def run_console(settings: Settings, out=None) -> int:
    """`rfq-gateway console`: the console alone, reading the database the gateway writes."""
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    database = session_factory(engine)
    try:
        server = build_console(settings, database, SystemClock(), LiveFeed(), session_source(settings, database))
    except ConsoleNotConfigured as error:
        print(f"rfq-gateway console: {error}", file=out)
        engine.dispose()
        return 2
    server.start()
    print(f"operator console: {server.url} (user {settings.console.username}); Ctrl-C stops", file=out, flush=True)
    try:
        wait_for_stop()
    finally:
        server.stop()
        engine.dispose()
    return 0
