"""Unit of work: atomic commit/rollback of ledger writes and outbox events."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from ledger.errors import InsufficientFunds
from ledger.ledger import Balance
from ledger.models import JournalEntry, OutboxRow
from ledger.uow import SqlUnitOfWork

UowFactory = Callable[..., SqlUnitOfWork]
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)


def _row_counts(uow_factory: UowFactory) -> tuple[int, int]:
    with uow_factory() as uow:
        entries = uow.session.scalar(select(func.count()).select_from(JournalEntry)) or 0
        events = uow.session.scalar(select(func.count()).select_from(OutboxRow)) or 0
    return entries, events


def test_leaving_without_commit_rolls_back_everything(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.ledger.deposit("alice", "USD", Decimal("5"), "dep-1")
        uow.add_event("deposited", {"amount": Decimal("5")}, rfq_id=None, occurred_at=T0)
    assert _row_counts(uow_factory) == (0, 0)
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal(0), Decimal(0))


def test_exception_rolls_back_ledger_and_events_together(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.ledger.deposit("alice", "USD", Decimal("5"), "dep-1")
        uow.commit()
    with pytest.raises(InsufficientFunds), uow_factory() as uow:
        uow.add_event("hold_requested", {"hold_id": "h1"}, rfq_id=1, occurred_at=T0)
        uow.ledger.lock("h0", "alice", "USD", Decimal("1"), "lock-h0")
        uow.ledger.lock("h1", "alice", "USD", Decimal("10"), "lock-h1")
        uow.commit()
    assert _row_counts(uow_factory) == (1, 0)
    with uow_factory() as uow:
        assert uow.ledger.balance("alice", "USD") == Balance(Decimal("5"), Decimal(0))


def test_events_commit_and_publish_once(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        first = uow.add_event(
            "rfq_filled",
            {"price": Decimal("101.2500"), "legs": [{"qty": Decimal("0.1")}], "at": T0, "note": None},
            rfq_id=42,
            occurred_at=T0,
        )
        second = uow.add_event("rfq_closed", {"reason": "filled"}, rfq_id=42, occurred_at=T0 + timedelta(seconds=1))
        uow.commit()
    with uow_factory() as uow:
        pending = uow.unpublished_events(limit=10)
        assert [event.id for event in pending] == [first, second]
        assert pending[0].event_type == "rfq_filled" and pending[0].rfq_id == 42
        assert pending[0].payload == {
            "price": "101.2500", "legs": [{"qty": "0.1"}], "at": "2026-01-02T03:04:05+00:00", "note": None,
        }
        assert pending[0].occurred_at == T0 and pending[0].published_at is None
        assert [event.id for event in uow.unpublished_events(limit=1)] == [first]
        assert uow.mark_published([first], at=T0 + timedelta(seconds=2)) == 1
        assert uow.mark_published([first, second], at=T0 + timedelta(seconds=3)) == 1
        assert uow.mark_published([], at=T0) == 0
        uow.commit()
    with uow_factory() as uow:
        assert uow.unpublished_events(limit=10) == []
        published_at = uow.session.scalar(select(OutboxRow.published_at).where(OutboxRow.id == first))
        assert published_at == T0 + timedelta(seconds=2)


def test_payloads_refuse_floats(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        with pytest.raises(TypeError):
            uow.add_event("bad", {"price": 1.5}, rfq_id=None, occurred_at=T0)
        with pytest.raises(TypeError):
            uow.add_event("bad", {"nested": [{"qty": 0.1}]}, rfq_id=None, occurred_at=T0)
        uow.commit()
    assert _row_counts(uow_factory) == (0, 0)


@pytest.mark.postgres
@pytest.mark.parametrize("empty_db_url", ["postgresql"], indirect=True)
def test_concurrent_relays_skip_each_others_events(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        ids = [uow.add_event("e", {"n": n}, rfq_id=None, occurred_at=T0) for n in range(3)]
        uow.commit()
    with uow_factory() as relay_a, uow_factory() as relay_b:
        claimed_by_a = [event.id for event in relay_a.unpublished_events(limit=2)]
        claimed_by_b = [event.id for event in relay_b.unpublished_events(limit=10)]
    assert claimed_by_a == ids[:2]
    assert claimed_by_b == ids[2:]
