"""The engine's timers: RFQ expiry, settlement timeouts, shown quotes going stale, operator
commands. Each decision commits in its own transaction; runs on the engine's thread."""
from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING

import structlog

from core.types import SessionName
from gateway.domain.book import Changeset
from gateway.domain.commands import ApplyOperatorCommand
from gateway.engine_sessions import decided
from gateway.handlers import expiry as handlers_expiry
from gateway.handlers import lifecycle as handlers_lifecycle
from gateway.handlers import quotes as handlers_quotes
from gateway.handlers import settlement as handlers_settlement
from gateway.ports import GatewayUnitOfWork

if TYPE_CHECKING:
    from gateway.engine import RfqEngine

log = structlog.get_logger(__name__)

TERMINAL_RFQS_KEPT_IN_MEMORY = 1_000
OPERATOR_POLL_INTERVAL_S = 1.0  # how soon an operator's `admin disable-solver` takes effect
OPERATOR_COMMANDS_PER_POLL = 50


class TimerDesk:
    def __init__(self, engine: RfqEngine, poll_operator_commands: bool) -> None:
        self._engine = engine
        self._poll_operator = poll_operator_commands
        self._next_operator_poll_s = 0.0  # monotonic: pacing, not business time

    def tick(self) -> None:
        engine = self._engine
        book, policy, now = engine.book, engine.policy, engine.now()
        for rfq in handlers_expiry.due_for_expiry(book, now):
            engine.commit(decided(handlers_expiry.expire(rfq, book, now)))
        for rfq in handlers_expiry.due_for_settlement_timeout(book, now, policy.settlement_timeout):
            timed_out = handlers_settlement.settlement_timed_out(rfq, book, now, policy.settlement_timeout_s)
            engine.commit(decided(timed_out))
        refreshed = handlers_quotes.refresh_presented(book, now)
        if not refreshed.is_empty:
            engine.commit(decided(refreshed))
        self._poll_operator_commands()
        engine.book.forget_terminal(TERMINAL_RFQS_KEPT_IN_MEMORY)

    def _poll_operator_commands(self) -> None:
        if not self._poll_operator or time.monotonic() < self._next_operator_poll_s:
            return
        self._next_operator_poll_s = time.monotonic() + OPERATOR_POLL_INTERVAL_S
        engine = self._engine
        with engine.uow() as uow:
            pending = uow.store.pending_operator_commands(OPERATOR_COMMANDS_PER_POLL)
        for row in pending:
            command = ApplyOperatorCommand(row.id, row.command, SessionName(row.comp_id))
            now = engine.now()
            changes, result = handlers_lifecycle.apply_operator_command(command, engine.policy, engine.book, now)

            def decide(uow: GatewayUnitOfWork, changes: Changeset = changes, result: str = result,
                       command_id: int = row.id, now: datetime = now) -> Changeset:
                uow.store.mark_operator_command_applied(command_id, now, result)
                return changes

            engine.commit(decide)
            log.info("operator_command_applied", command=row.command, session=row.comp_id, result=result)
