"""The venue's own books: every execution it reports, and the shares it holds per client account.

The journal is what the venue's T+1 statement is written from; the positions are what its custody
position report shows (opening position + shares bought - shares sold). Pure domain, no I/O; not
thread-safe on its own: the matching engine's lock covers it.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal

from core.types import Side
from venue_sim.errors import VenueConfigError
from venue_sim.events import VenueFill

# Statements are written for T the next business day; ten days of fills cover any holiday run
# and keep the journal bounded on a venue that runs for months.
DEFAULT_RETENTION_DAYS = 10

PositionKey = tuple[str, str]  # (account, symbol)


def signed_quantity(fill: VenueFill) -> Decimal:
    """Shares the client's custody position changes by: bought shares in, sold shares out."""
    assert fill.side in (Side.BUY, Side.SELL), f"fill {fill.exec_id} has side {fill.side}"
    return fill.last_qty if fill.side == Side.BUY else -fill.last_qty


class FillJournal:
    def __init__(self, opening_positions: Mapping[str, Mapping[str, Decimal]] | None = None,
                 retention_days: int = DEFAULT_RETENTION_DAYS) -> None:
        """`opening_positions`: account -> symbol -> shares held at custody before any fill."""
        if retention_days < 1:
            raise VenueConfigError(f"fill retention of {retention_days} days: fills must be kept at least "
                                   "until the next day's statement")
        self._retention = timedelta(days=retention_days)
        self._fills: list[VenueFill] = []
        self._exec_ids: set[str] = set()
        self._positions: dict[PositionKey, Decimal] = {}
        for account, holdings in (opening_positions or {}).items():
            for symbol, quantity in holdings.items():
                if not (isinstance(quantity, Decimal) and quantity.is_finite()):
                    raise VenueConfigError(
                        f"opening position {account}/{symbol} must be a finite Decimal, got {quantity!r}")
                self._positions[(account, symbol)] = quantity

    def record(self, fill: VenueFill) -> None:
        assert fill.exec_id not in self._exec_ids, f"execution {fill.exec_id} recorded twice"
        assert fill.last_qty > 0 and fill.last_px > 0, f"execution {fill.exec_id} has no quantity or price"
        self._fills.append(fill)
        self._exec_ids.add(fill.exec_id)
        key = (fill.account, fill.symbol)
        self._positions[key] = self._positions.get(key, Decimal(0)) + signed_quantity(fill)
        self._forget_before(fill.trade_date - self._retention)

    def fills(self, trade_date: date | None = None, account: str | None = None) -> list[VenueFill]:
        """Recorded executions in execution order, optionally of one trade date and/or account."""
        return [fill for fill in self._fills
                if (trade_date is None or fill.trade_date == trade_date)
                and (account is None or fill.account == account)]

    def positions(self) -> dict[PositionKey, Decimal]:
        """Shares held per (account, symbol); a sale beyond the holding shows as a negative position."""
        return dict(self._positions)

    def _forget_before(self, oldest_kept: date) -> None:
        # Positions stay: they are running totals, not derived from the kept fills.
        if self._fills and self._fills[0].trade_date < oldest_kept:
            dropped = [fill for fill in self._fills if fill.trade_date < oldest_kept]
            self._fills = [fill for fill in self._fills if fill.trade_date >= oldest_kept]
            self._exec_ids.difference_update(fill.exec_id for fill in dropped)
