"""Where the matching engine keeps its orders, indexed by the questions it asks (pure domain, no I/O).

Live orders (not yet filled, canceled or rejected) are indexed twice: armed ones by symbol, so a market
update looks only at the resting orders of the symbols that moved, and Day orders by the trading date
they expire after, so the end-of-day sweep looks only at orders that are due. A finished order leaves
both indices at once. It stays answerable (OrderStatusRequest, OrderMassStatusRequest, a duplicate
ClOrdID, a too-late cancel) for DONE_ORDER_RETENTION_DAYS, then it is forgotten.

Not thread-safe on its own: the matching engine's lock covers it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from venue_sim.custody import DEFAULT_RETENTION_DAYS
from venue_sim.errors import VenueConfigError
from venue_sim.orders import BookOrder, OrderKey

# Days (New York trading dates) a finished order is still answered for after it finished. As long as
# the fill journal keeps its fills: the broker's mass status after a restart and the T+1 statement both
# fall well within it, and the record stays bounded on a venue that runs for months.
DONE_ORDER_RETENTION_DAYS = DEFAULT_RETENTION_DAYS

Bucket = TypeVar("Bucket", str, date)  # a symbol, or a trading date


@dataclass(frozen=True)
class IndexSizes:
    """How many orders each index holds (for tests and diagnostics)."""

    answerable: int  # live and retained finished orders: what status queries can find
    live_day_orders: int
    resting: dict[str, int]  # armed live orders per symbol
    finished_days: int  # trading dates whose finished orders are still retained


class OrderIndex:
    def __init__(self, done_retention_days: int = DONE_ORDER_RETENTION_DAYS) -> None:
        if done_retention_days < 1:
            raise VenueConfigError("finished orders must be kept at least for the day they finished")
        self._retention = timedelta(days=done_retention_days)
        # Every order the venue still answers for, in booking order (a key is booked once, so
        # insertion order is submission order).
        self._orders: dict[OrderKey, BookOrder] = {}
        self._resting: dict[str, dict[OrderKey, BookOrder]] = {}
        self._day_orders: dict[date, dict[OrderKey, BookOrder]] = {}
        self._done_by_day: dict[date, list[BookOrder]] = {}

    def get(self, key: OrderKey) -> BookOrder | None:
        return self._orders.get(key)

    def __contains__(self, key: OrderKey) -> bool:
        return key in self._orders

    def book(self, order: BookOrder, trade_date: date) -> None:
        """A new order, accepted or rejected; `trade_date` is the New York date it was booked on."""
        assert order.key not in self._orders, f"order {order.key} booked twice"
        self._orders[order.key] = order
        if order.is_done:
            self.retire(order, trade_date)
        elif order.time_in_force == "day":
            self._day_orders.setdefault(trade_date, {})[order.key] = order

    def rest(self, order: BookOrder) -> None:
        """An armed live order joins its symbol's resting orders, matched on every market update."""
        assert order.armed and not order.is_done, f"order {order.key} cannot rest"
        self._resting.setdefault(order.symbol, {})[order.key] = order

    def resting(self, symbols: Iterable[str] | None = None) -> list[BookOrder]:
        """Resting orders of `symbols` (None: every symbol), in booking order."""
        chosen = self._resting.keys() if symbols is None else set(symbols)
        orders = [order for symbol in chosen for order in self._resting.get(symbol, {}).values()]
        return sorted(orders, key=lambda order: order.sequence)

    def day_orders_before(self, trade_date: date) -> list[BookOrder]:
        """Live Day orders booked on a trading date before `trade_date`, in booking order."""
        due = [order for day, orders in self._day_orders.items() if day < trade_date for order in orders.values()]
        return sorted(due, key=lambda order: order.sequence)

    def retire(self, order: BookOrder, trade_date: date) -> None:
        """`order` is finished (on `trade_date`): it leaves the live indices and is kept only to be answered for."""
        assert order.is_done, f"order {order.key} is still live"
        _discard(self._resting, order.symbol, order.key)
        for day in [day for day, orders in self._day_orders.items() if order.key in orders]:
            _discard(self._day_orders, day, order.key)
        self._done_by_day.setdefault(trade_date, []).append(order)
        self._forget_done_before(trade_date - self._retention)

    def orders(self, owner: str | None = None) -> list[BookOrder]:
        """Every order still answered for, in booking order; None = all owners."""
        return [order for order in self._orders.values() if owner is None or order.owner == owner]

    def sizes(self) -> IndexSizes:
        return IndexSizes(
            answerable=len(self._orders),
            live_day_orders=sum(len(orders) for orders in self._day_orders.values()),
            resting={symbol: len(orders) for symbol, orders in self._resting.items()},
            finished_days=len(self._done_by_day),
        )

    def _forget_done_before(self, oldest_kept: date) -> None:
        for day in [day for day in self._done_by_day if day < oldest_kept]:
            for order in self._done_by_day.pop(day):
                # Only while the key still names this finished order (never a later booking of it).
                if self._orders.get(order.key) is order:
                    del self._orders[order.key]


def _discard(index: dict[Bucket, dict[OrderKey, BookOrder]], bucket: Bucket, key: OrderKey) -> None:
    """Remove `key` from `index[bucket]`, and the bucket once it is empty, so no index keeps empty slots."""
    orders = index.get(bucket)
    if orders is None:
        return
    orders.pop(key, None)
    if not orders:
        del index[bucket]
