"""Operator actions across processes: the CLI writes, the running engine polls and applies.

Both classes work inside the caller's transaction (no commit here), so writing a solver's
status and queueing the command that tells the engine about it commit together.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import structlog
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core.clock import Now, utc_now
from db.engine import affected_rows
from gateway.access.models import OPERATOR_COMMANDS, REASON_LENGTH, OperatorCommandRow, SolverStatusRow

log = structlog.get_logger(__name__)

MAX_PENDING_BATCH = 100
MAX_REQUESTED_BY_CHARS = 64


class OperatorCommandKind(StrEnum):
    DISABLE_SOLVER = "disable_solver"
    ENABLE_SOLVER = "enable_solver"
    SET_BROKER_MARGIN = "set_broker_margin"  # recorded as applied: the broker connector polls its parameters


assert {kind.value for kind in OperatorCommandKind} == set(OPERATOR_COMMANDS), "enum and CHECK constraint differ"


@dataclass(frozen=True)
class OperatorCommand:
    id: int
    command: OperatorCommandKind
    comp_id: str
    requested_at: datetime
    requested_by: str
    applied_at: datetime | None
    result: str | None


def _command(row: OperatorCommandRow) -> OperatorCommand:
    return OperatorCommand(id=row.id, command=OperatorCommandKind(row.command), comp_id=row.comp_id,
                           requested_at=row.requested_at, requested_by=row.requested_by,
                           applied_at=row.applied_at, result=row.result)


class OperatorQueue:
    def __init__(self, session: Session, clock: Now = utc_now) -> None:
        self._session = session
        self._clock = clock

    def enqueue(self, command: OperatorCommandKind | str, comp_id: str, requested_by: str) -> int:
        """Queue a command for the running engine; returns its id (ids grow in request order)."""
        kind = OperatorCommandKind(command)
        if not comp_id:
            raise ValueError("comp_id must not be empty")
        row = OperatorCommandRow(command=kind.value, comp_id=comp_id, requested_at=self._clock(),
                                 requested_by=requested_by[:MAX_REQUESTED_BY_CHARS] or "unknown")
        self._session.add(row)
        self._session.flush()
        log.info("operator_command_queued", id=row.id, command=kind.value, comp_id=comp_id,
                 requested_by=row.requested_by)
        return row.id

    def record_applied(self, command: OperatorCommandKind | str, comp_id: str, requested_by: str,
                       result: str) -> int:
        """An operator action that took effect without the engine (e.g. a broker margin): audit only."""
        command_id = self.enqueue(command, comp_id, requested_by)
        self.mark_applied(command_id, self._clock(), result)
        return command_id

    def pending(self, limit: int) -> list[OperatorCommand]:
        """Unapplied commands, oldest first. On PostgreSQL rows another poller holds are skipped."""
        assert 0 < limit <= MAX_PENDING_BATCH, f"limit must be in 1..{MAX_PENDING_BATCH}"
        statement = (
            select(OperatorCommandRow)
            .where(OperatorCommandRow.applied_at.is_(None))
            .order_by(OperatorCommandRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_command(row) for row in self._session.scalars(statement)]

    def mark_applied(self, command_id: int, at: datetime, result: str) -> bool:
        """Stamp a command as applied with what happened; False if unknown or already applied."""
        statement = (
            update(OperatorCommandRow)
            .where(OperatorCommandRow.id == command_id, OperatorCommandRow.applied_at.is_(None))
            .values(applied_at=at, result=result)
        )
        stamped = bool(affected_rows(self._session.execute(statement)))
        log.info("operator_command_applied", id=command_id, stamped=stamped, result=result)
        return stamped


@dataclass(frozen=True)
class SolverStatus:
    comp_id: str
    enabled: bool
    changed_at: datetime
    reason: str | None


class SolverStatusStore:
    def __init__(self, session: Session, clock: Now = utc_now) -> None:
        self._session = session
        self._clock = clock

    def set_enabled(self, comp_id: str, enabled: bool, reason: str | None) -> None:
        if not comp_id:
            raise ValueError("comp_id must not be empty")
        if reason is not None and len(reason) > REASON_LENGTH:
            raise ValueError(f"a reason is at most {REASON_LENGTH} characters")
        self._session.merge(SolverStatusRow(comp_id=comp_id, enabled=enabled, changed_at=self._clock(),
                                            reason=reason))
        self._session.flush()
        log.info("solver_status_set", comp_id=comp_id, enabled=enabled, reason=reason)

    def disabled(self) -> set[str]:
        statement = select(SolverStatusRow.comp_id).where(SolverStatusRow.enabled.is_(False))
        return set(self._session.scalars(statement))

    def is_enabled(self, comp_id: str) -> bool:
        row = self._session.get(SolverStatusRow, comp_id)
        return True if row is None else row.enabled

    def all(self) -> dict[str, SolverStatus]:
        rows = self._session.scalars(select(SolverStatusRow).order_by(SolverStatusRow.comp_id))
        return {row.comp_id: SolverStatus(row.comp_id, row.enabled, row.changed_at, row.reason) for row in rows}
