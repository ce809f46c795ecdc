"""Quoting parameters per market session (margin and aggression, in bps), changed at
run time without a restart: defaults from config, overrides from SQL, re-read by
the connector every second."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from broker.models import BrokerParameterRow

MARGIN_LIMIT_BPS = Decimal(1000)  # 10%: anything above is a typo, not a price


@dataclass(frozen=True)
class QuotingParameters:
    margin_bps: Decimal
    aggression_bps: Decimal

    def __post_init__(self) -> None:
        for name, value in (("margin_bps", self.margin_bps), ("aggression_bps", self.aggression_bps)):
            if not (Decimal(0) <= value <= MARGIN_LIMIT_BPS):
                raise ValueError(f"{name} must be between 0 and {MARGIN_LIMIT_BPS}, got {value}")


class ParameterBook:
    """Thread-safe: the connector thread reads, a refresher replaces."""

    def __init__(self, default: QuotingParameters) -> None:
        self._default = default
        self._by_session: dict[str, QuotingParameters] = {}
        self._lock = threading.Lock()

    def for_session(self, market_session: str | None) -> QuotingParameters:
        with self._lock:
            return self._by_session.get(market_session or "", self._default)

    def replace(self, by_session: dict[str, QuotingParameters]) -> None:
        with self._lock:
            self._by_session = dict(by_session)

    def refresh(self, session: Session) -> None:
        rows = session.scalars(select(BrokerParameterRow)).all()
        self.replace({row.market_session: QuotingParameters(row.margin_bps, row.aggression_bps) for row in rows})


def set_parameters(session: Session, market_session: str, parameters: QuotingParameters, at: datetime,
                   updated_by: str) -> None:
    """Upsert one market session's parameters (the caller commits)."""
    row = session.get(BrokerParameterRow, market_session)
    if row is None:
        session.add(BrokerParameterRow(market_session=market_session, margin_bps=parameters.margin_bps,
                                       aggression_bps=parameters.aggression_bps, updated_at=at, updated_by=updated_by))
        return
    row.margin_bps, row.aggression_bps = parameters.margin_bps, parameters.aggression_bps
    row.updated_at, row.updated_by = at, updated_by
