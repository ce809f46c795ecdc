"""Unit of work (Cosmic Python style) over one SQLAlchemy session, with a transactional outbox.

Ledger writes and domain events commit or roll back together; a relay publishes events after
commit and marks them published, so a crash between commit and publish only delays delivery
(at-least-once; consumers deduplicate by event id).
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any

import structlog
from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from core.clock import Now, utc_now
from db.engine import affected_rows
from db.upsert import table_of
from ledger.ledger import Ledger
from ledger.models import OutboxRow

log = structlog.get_logger(__name__)

MAX_EVENT_BATCH = 1000


@dataclass(frozen=True)
class DomainEventRecord:
    """An outbox row; Decimals in `payload` come back as the strings they were serialised to."""

    id: int
    rfq_id: int | None
    event_type: str
    payload: dict[str, Any]
    occurred_at: datetime
    published_at: datetime | None


def _to_json_value(value: Any) -> Any:
    if isinstance(value, float):
        raise TypeError(f"refusing float {value!r} in an event payload; use decimal.Decimal")
    if isinstance(value, Decimal):
        assert value.is_finite(), f"non-finite decimal {value} in an event payload"
        return str(value)
    if isinstance(value, datetime):
        assert value.tzinfo is not None, f"naive datetime {value!r} in an event payload"
        return value.isoformat()
    if isinstance(value, Mapping):
        return {_require_str_key(key): _to_json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json_value(item) for item in value]
    if value is None or isinstance(value, (str, int, bool)):
        return value
    raise TypeError(f"cannot serialise {type(value).__name__} in an event payload")


def _require_str_key(key: object) -> str:
    if not isinstance(key, str):
        raise TypeError(f"event payload keys must be strings, got {key!r}")
    return key


def encode_payload(payload: Mapping[str, Any]) -> str:
    return json.dumps(_to_json_value(payload), sort_keys=True, separators=(",", ":"))


class SqlUnitOfWork:
    """`with SqlUnitOfWork(factory) as uow: ...; uow.commit()` -- leaving without commit rolls back."""

    def __init__(self, session_factory: sessionmaker[Session], clock: Now = utc_now) -> None:
        self._session_factory = session_factory
        self._clock = clock
        self._session: Session | None = None
        self._ledger: Ledger | None = None

    def __enter__(self) -> SqlUnitOfWork:
        assert self._session is None, "unit of work is not re-entrant"
        self._session = self._session_factory()
        self._ledger = Ledger(self._session, clock=self._clock)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        session = self.session
        try:
            # After commit() this is a no-op; otherwise it discards everything uncommitted.
            session.rollback()
        finally:
            session.close()
            self._session = None
            self._ledger = None

    @property
    def session(self) -> Session:
        assert self._session is not None, "use the unit of work inside a with block"
        return self._session

    @property
    def ledger(self) -> Ledger:
        assert self._ledger is not None, "use the unit of work inside a with block"
        return self._ledger

    def commit(self) -> None:
        self.session.commit()

    def rollback(self) -> None:
        self.session.rollback()

    def add_event(
        self, event_type: str, payload: dict[str, Any], rfq_id: int | None, occurred_at: datetime
    ) -> int:
        """Stage an outbox event in this transaction; returns its id."""
        assert 0 < len(event_type) <= 64, f"event_type must be 1..64 characters: {event_type!r}"
        event = OutboxRow(
            rfq_id=rfq_id,
            event_type=event_type,
            payload=encode_payload(payload),
            occurred_at=occurred_at,
            published_at=None,
        )
        self.session.add(event)
        self.session.flush()
        return event.id

    def add_events(self, events: Sequence[tuple[str, Mapping[str, Any], int | None, datetime]]) -> None:
        """Stage many outbox events (type, payload, rfq_id, occurred_at) in one statement."""
        if not events:
            return
        rows = []
        for event_type, payload, rfq_id, occurred_at in events:
            assert 0 < len(event_type) <= 64, f"event_type must be 1..64 characters: {event_type!r}"
            rows.append({"rfq_id": rfq_id, "event_type": event_type, "payload": encode_payload(payload),
                         "occurred_at": occurred_at, "published_at": None})
        self.session.execute(insert(table_of(OutboxRow)), rows)

    def unpublished_events(self, limit: int) -> list[DomainEventRecord]:
        """Oldest unpublished events first. On PostgreSQL rows another relay holds are skipped.

        Ids follow insertion, not commit, order: with concurrent writers a later id may become
        visible first, so consumers must not assume gap-free ordering.
        """
        assert 0 < limit <= MAX_EVENT_BATCH, f"limit must be in 1..{MAX_EVENT_BATCH}"
        statement = (
            select(OutboxRow)
            .where(OutboxRow.published_at.is_(None))
            .order_by(OutboxRow.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return [_record(event) for event in self.session.scalars(statement)]

    def mark_published(self, ids: Iterable[int], at: datetime) -> int:
        """Stamp events as published (only those not stamped yet); returns how many were stamped."""
        id_list = sorted(set(ids))
        if not id_list:
            return 0
        statement = (
            update(OutboxRow)
            .where(OutboxRow.id.in_(id_list), OutboxRow.published_at.is_(None))
            .values(published_at=at)
        )
        stamped = affected_rows(self.session.execute(statement))
        log.info("outbox_marked_published", requested=len(id_list), stamped=stamped)
        return int(stamped)


def _record(event: OutboxRow) -> DomainEventRecord:
    return DomainEventRecord(
        id=event.id,
        rfq_id=event.rfq_id,
        event_type=event.event_type,
        payload=json.loads(event.payload),
        occurred_at=event.occurred_at,
        published_at=event.published_at,
    )
