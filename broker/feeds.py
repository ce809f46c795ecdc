"""Reference prices for quoting: a primary feed (the seed's Pyth Lazer role) and a
fallback (dxFeed's role). A price older than the staleness limit is never used;
with no fresh price from either feed the connector declines to quote."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import structlog

from core.clock import Clock

log = structlog.get_logger(__name__)


class InvalidQuote(ValueError):
    """A reference quote that is not a market: it needs 0 < bid <= ask."""


@dataclass(frozen=True)
class FeedQuote:
    bid: Decimal
    ask: Decimal
    as_of: datetime


class PriceFeed:
    """Latest quote per symbol from one source; updated from any thread."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._quotes: dict[str, FeedQuote] = {}
        self._lock = threading.Lock()

    def update(self, symbol: str, bid: Decimal, ask: Decimal, as_of: datetime) -> None:
        if not (0 < bid <= ask):
            raise InvalidQuote(f"{self.name}: a quote has 0 < bid <= ask, got {bid}/{ask} for {symbol}")
        with self._lock:
            current = self._quotes.get(symbol)
            if current is None or as_of >= current.as_of:  # an older update never overwrites a newer one
                self._quotes[symbol] = FeedQuote(bid, ask, as_of)

    def latest(self, symbol: str) -> FeedQuote | None:
        with self._lock:
            return self._quotes.get(symbol)


class ReferencePrices:
    def __init__(self, primary: PriceFeed, fallback: PriceFeed, staleness_s: float, clock: Clock) -> None:
        if not staleness_s > 0:
            raise ValueError(f"price staleness must be a positive number of seconds, got {staleness_s}")
        self.primary, self.fallback = primary, fallback
        self._staleness = timedelta(seconds=staleness_s)
        self._clock = clock

    def fresh_quote(self, symbol: str) -> tuple[str, FeedQuote] | None:
        """(feed name, quote) from the primary if fresh, else the fallback if fresh, else None."""
        now = self._clock.now()
        for feed in (self.primary, self.fallback):
            quote = feed.latest(symbol)
            if quote is not None and now - quote.as_of <= self._staleness:
                return feed.name, quote
        return None

    def reference(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        found = self.fresh_quote(symbol)
        return None if found is None else (found[1].bid, found[1].ask)


class FeedPoller:
    """Feeds the connector's price feeds from an NBBO source (in process: the simulated venue)."""

    def __init__(self, feeds: list[PriceFeed], nbbo: Callable[[str], tuple[Decimal, Decimal] | None],
                 symbols: list[str], clock: Clock, interval_s: float = 0.2) -> None:
        if not interval_s > 0:
            raise ValueError(f"feed poll interval must be a positive number of seconds, got {interval_s}")
        self._feeds, self._nbbo, self._symbols, self._clock = feeds, nbbo, symbols, clock
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-poller", daemon=True)

    def start(self) -> None:
        self.poll_once()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def poll_once(self) -> None:
        now = self._clock.now()
        for symbol in self._symbols:
            quote = self._nbbo(symbol)
            if quote is None:
                continue
            try:
                for feed in self._feeds:
                    feed.update(symbol, quote[0], quote[1], now)
            except InvalidQuote as error:  # a crossed or empty NBBO is no reference: keep the last good one
                log.warning("feed_quote_refused", symbol=symbol, error=str(error))

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.poll_once()
            except Exception:  # noqa: BLE001 - a bad tick must not end the feed
                log.exception("feed_poll_failed")
