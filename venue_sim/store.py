"""The simulated venue's own store: its executions, its orders and its current NBBO, in a SQLite
file of its own (data_dir/venue/venue.sqlite3), apart from the gateway's database -- a venue is
another firm, and it outlives a gateway crash.

- Every execution and every order change is written before the report that tells the client
  (an exchange's durability): after a crash the venue still knows what it traded, its T+1
  statement is complete, and the orders that were live are canceled and reported as such.
- The NBBO of each symbol is rewritten after every market step: the price board the gateway and
  the broker connector read when the venue runs as its own process without MQTT.

Plain sqlite3 (a simulator's scratch store, created on open; no migrations): WAL, so readers in
other processes never block the venue, and synchronous=NORMAL, durable across a process crash.
"""
from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from core.types import Side
from venue_sim.events import VenueFill
from venue_sim.market import Nbbo
from venue_sim.orders import OrderSnapshot, OrderState, recognised_side

SCHEMA = """
CREATE TABLE IF NOT EXISTS executions (
    exec_id TEXT PRIMARY KEY, account TEXT NOT NULL, cl_ord_id TEXT NOT NULL, order_id TEXT NOT NULL,
    symbol TEXT NOT NULL, side TEXT NOT NULL, last_px TEXT NOT NULL, last_qty TEXT NOT NULL,
    cum_qty TEXT NOT NULL, leaves_qty TEXT NOT NULL, avg_px TEXT NOT NULL, nbbo_bid TEXT NOT NULL,
    nbbo_offer TEXT NOT NULL, executed_at TEXT NOT NULL, trade_date TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS executions_by_date ON executions (trade_date, account);
CREATE TABLE IF NOT EXISTS orders (
    owner TEXT NOT NULL, cl_ord_id TEXT NOT NULL, order_id TEXT NOT NULL, symbol TEXT NOT NULL,
    side TEXT NOT NULL, quantity TEXT NOT NULL, limit_price TEXT NOT NULL, time_in_force TEXT NOT NULL,
    state TEXT NOT NULL, cum_qty TEXT NOT NULL, leaves_qty TEXT NOT NULL, avg_px TEXT NOT NULL,
    created_at TEXT NOT NULL, PRIMARY KEY (owner, cl_ord_id));
CREATE INDEX IF NOT EXISTS orders_by_state ON orders (state);
CREATE TABLE IF NOT EXISTS nbbo (
    symbol TEXT PRIMARY KEY, bid TEXT NOT NULL, bid_size TEXT NOT NULL, ask TEXT NOT NULL,
    ask_size TEXT NOT NULL, as_of TEXT NOT NULL, written_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS statements (trade_date TEXT PRIMARY KEY, written_at TEXT NOT NULL);
"""
DONE_STATES = frozenset({OrderState.FILLED.value, OrderState.CANCELED.value, OrderState.REJECTED.value})
BUSY_TIMEOUT_S = 5.0


def store_path(data_dir: Path) -> Path:
    return Path(data_dir) / "venue" / "venue.sqlite3"


class VenueStore:
    """Written by the venue (one connection, serialised by a lock); read by `PriceBoard` elsewhere."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- writes ----------------------------------------------------------------------------------
    def record_fill(self, fill: VenueFill) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO executions VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (fill.exec_id, fill.account, fill.cl_ord_id, fill.order_id, fill.symbol, fill.side.value,
                 str(fill.last_px), str(fill.last_qty), str(fill.cum_qty), str(fill.leaves_qty), str(fill.avg_px),
                 str(fill.nbbo_bid), str(fill.nbbo_offer), fill.executed_at.isoformat(), fill.trade_date.isoformat()))

    def save_order(self, order: OrderSnapshot) -> None:
        side = order.side.value if isinstance(order.side, Side) else str(order.side)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO orders VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (order.owner, order.cl_ord_id, order.order_id, order.symbol, side, str(order.quantity),
                 str(order.limit_price), order.time_in_force, order.state.value, str(order.cum_qty),
                 str(order.leaves_qty), str(order.avg_px), order.created_at.isoformat()))

    def save_nbbo(self, quotes: Iterable[Nbbo]) -> None:
        """`as_of` is the market's (business) time; `written_at` the wall clock, which readers in other
        processes judge freshness by (their business clocks may be simulated, and offset)."""
        written_at = datetime.now(timezone.utc).isoformat()
        rows = [(q.symbol, str(q.bid), str(q.bid_size), str(q.ask), str(q.ask_size), q.as_of.isoformat(), written_at)
                for q in quotes]
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO nbbo VALUES (?,?,?,?,?,?,?)", rows)
            self._db.execute("COMMIT")

    def mark_statement_written(self, trade_date: date, at: datetime) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO statements VALUES (?,?)", (trade_date.isoformat(), at.isoformat()))

    # -- reads -------------------------------------------------------------------------------------
    def fills(self, trade_date: date | None = None, account: str | None = None) -> list[VenueFill]:
        query, parameters = "SELECT * FROM executions", []
        clauses = []
        if trade_date is not None:
            clauses.append("trade_date = ?")
            parameters.append(trade_date.isoformat())
        if account is not None:
            clauses.append("account = ?")
            parameters.append(account)
        if clauses:
            query += " WHERE " + " AND ".join(clauses)
        with self._lock:
            rows = self._db.execute(query + " ORDER BY exec_id", parameters).fetchall()
        return [_fill(row) for row in rows]

    def live_orders(self) -> list[OrderSnapshot]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM orders WHERE state NOT IN (?,?,?)", tuple(DONE_STATES)).fetchall()
        return [_order(row) for row in rows]

    def trade_dates_with_fills(self) -> list[date]:
        with self._lock:
            rows = self._db.execute("SELECT DISTINCT trade_date FROM executions ORDER BY trade_date").fetchall()
        return [date.fromisoformat(row[0]) for row in rows]

    def statement_written(self, trade_date: date) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM statements WHERE trade_date = ?",
                                   (trade_date.isoformat(),)).fetchone()
        return row is not None


class PriceBoard:
    """The venue's NBBO as another process reads it from the venue's store (read-only)."""

    def __init__(self, path: Path, max_age_s: float) -> None:
        self._uri = f"file:{path}?mode=ro"
        self._max_age = timedelta(seconds=max_age_s)
        self._local = threading.local()

    def reference(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        """(bid, ask) of `symbol`, or None when the venue has not published it lately (or at all)."""
        try:
            row = self._connection().execute("SELECT bid, ask, written_at FROM nbbo WHERE symbol = ?",
                                              (symbol,)).fetchone()
        except sqlite3.Error:
            return None  # the venue has not created its store yet
        if row is None or datetime.now(timezone.utc) - datetime.fromisoformat(row[2]) > self._max_age:
            return None
        return Decimal(row[0]), Decimal(row[1])

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=True)
            self._local.connection = connection
        return connection


def _fill(row: tuple[str, ...]) -> VenueFill:
    return VenueFill(exec_id=row[0], account=row[1], cl_ord_id=row[2], order_id=row[3], symbol=row[4],
                     side=Side(row[5]), last_px=Decimal(row[6]), last_qty=Decimal(row[7]), cum_qty=Decimal(row[8]),
                     leaves_qty=Decimal(row[9]), avg_px=Decimal(row[10]), nbbo_bid=Decimal(row[11]),
                     nbbo_offer=Decimal(row[12]), executed_at=_utc(row[13]), trade_date=date.fromisoformat(row[14]))


def _order(row: tuple[str, ...]) -> OrderSnapshot:
    return OrderSnapshot(owner=row[0], cl_ord_id=row[1], order_id=row[2], symbol=row[3],
                         side=recognised_side(row[4]), quantity=Decimal(row[5]), limit_price=Decimal(row[6]),
                         time_in_force=row[7], state=OrderState(row[8]), cum_qty=Decimal(row[9]),
                         leaves_qty=Decimal(row[10]), avg_px=Decimal(row[11]), created_at=_utc(row[12]))


def _utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)
