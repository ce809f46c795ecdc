"""Simulated US lit-exchange quotes and the NBBO built from them (pure domain, no I/O).

Every venue quotes around a per-symbol "reference bid" rb: each venue bid is at or below rb
and each venue ask at or above rb + 1 tick. That keeps the consolidated market from ever
locking or crossing while venues still differ from each other (1-5 tick spreads per venue),
which independent per-venue random walks would not guarantee.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Iterable

from core.types import Side
from venue_sim.errors import InvalidQuote, VenueConfigError

TICK = Decimal("0.01")
ROUND_LOT = 100
MIN_LOTS, MAX_LOTS = 1, 9
# Each side sits 0..2 ticks away from the reference band, so venue spreads are 1..5 ticks.
MAX_BACKOFF_TICKS = 2

US_LIT_EXCHANGES: tuple[str, ...] = (
    "NYSE",
    "NASDAQ",
    "NYSE Arca",
    "NYSE American",
    "CBOE BZX",
    "CBOE BYX",
    "CBOE EDGX",
    "CBOE EDGA",
    "NASDAQ BX",
    "NASDAQ PSX",
    "IEX",
    "MEMX",
    "MIAX Pearl Equities",
    "LTSE",
    "NYSE National",
    "NYSE Chicago",
)

class UnknownSymbol(KeyError):
    """The market has no quotes for this symbol."""


def is_on_tick(price: Decimal) -> bool:
    return price % TICK == 0


def is_whole(quantity: Decimal) -> bool:
    return quantity == quantity.to_integral_value()


def plain(value: Decimal) -> str:
    """A decimal exactly as carried, in plain notation (100 not 1E+2; 227.435 stays 227.435)."""
    assert value.is_finite(), f"not a finite decimal: {value!r}"
    return format(value, "f")


@dataclass(frozen=True)
class ExchangeQuote:
    """One venue's displayed top of book."""

    venue: str
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal

    def __post_init__(self) -> None:
        # Scripted quotes (requote, with_quotes) come from callers: refuse them rather than trust them.
        if not 0 < self.bid < self.ask:
            raise InvalidQuote(f"{self.venue}: bid {self.bid} must be positive and below ask {self.ask}")
        if not (is_on_tick(self.bid) and is_on_tick(self.ask)):
            raise InvalidQuote(f"{self.venue}: prices {self.bid}/{self.ask} off the cent tick")
        if self.bid_size < 0 or self.ask_size < 0:
            raise InvalidQuote(f"{self.venue}: negative size {self.bid_size}/{self.ask_size}")
        if not (is_whole(self.bid_size) and is_whole(self.ask_size)):
            raise InvalidQuote(f"{self.venue}: fractional size {self.bid_size}/{self.ask_size}")


@dataclass(frozen=True)
class Nbbo:
    """National best bid and offer; sizes are aggregated over every venue at the touch."""

    symbol: str
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal
    as_of: datetime
    bid_venues: tuple[str, ...]
    ask_venues: tuple[str, ...]

    @property
    def midpoint(self) -> Decimal:
        return (self.bid + self.ask) / 2

    def touch_price(self, side: Side) -> Decimal:
        """The price a taker on `side` trades at: the offer for a buy, the bid for a sell."""
        return self.ask if side == Side.BUY else self.bid

    def touch_size(self, side: Side) -> Decimal:
        return self.ask_size if side == Side.BUY else self.bid_size

    def touch_venues(self, side: Side) -> tuple[str, ...]:
        return self.ask_venues if side == Side.BUY else self.bid_venues

    def is_marketable(self, side: Side, limit_price: Decimal) -> bool:
        """A buy limit at or above the offer, or a sell limit at or below the bid, can trade now."""
        return limit_price >= self.ask if side == Side.BUY else limit_price <= self.bid


@dataclass(frozen=True)
class BookSnapshot:
    """Every venue's quote and the NBBO built from them, read at one moment (for market data)."""

    nbbo: Nbbo
    quotes: tuple[ExchangeQuote, ...]


@dataclass(frozen=True)
class Touch:
    bid: Decimal
    bid_size: Decimal
    bid_venues: tuple[str, ...]
    ask: Decimal
    ask_size: Decimal
    ask_venues: tuple[str, ...]


@dataclass(frozen=True)
class TakenLiquidity:
    """What a taker received from the touch, and the NBBO it traded against."""

    quantity: Decimal
    nbbo: Nbbo


def best_touch(quotes: Iterable[ExchangeQuote]) -> Touch:
    """Best bid/offer across venues; venues with nothing displayed on a side do not count.

    The random walk never locks, crosses or empties a side; scripted quotes can, and are refused."""
    quotes = tuple(quotes)
    bids = [q for q in quotes if q.bid_size > 0]
    asks = [q for q in quotes if q.ask_size > 0]
    if not (bids and asks):
        raise InvalidQuote("every side needs at least one venue with displayed size")
    best_bid = max(q.bid for q in bids)
    best_ask = min(q.ask for q in asks)
    if not best_bid < best_ask:
        raise InvalidQuote(f"locked or crossed market {best_bid}/{best_ask}")
    at_bid = [q for q in bids if q.bid == best_bid]
    at_ask = [q for q in asks if q.ask == best_ask]
    return Touch(
        bid=best_bid,
        bid_size=sum((q.bid_size for q in at_bid), Decimal(0)),
        bid_venues=tuple(q.venue for q in at_bid),
        ask=best_ask,
        ask_size=sum((q.ask_size for q in at_ask), Decimal(0)),
        ask_venues=tuple(q.venue for q in at_ask),
    )


def compute_nbbo(symbol: str, quotes: Iterable[ExchangeQuote], now: datetime) -> Nbbo:
    touch = best_touch(quotes)
    return Nbbo(symbol, touch.bid, touch.bid_size, touch.ask, touch.ask_size, now,
                touch.bid_venues, touch.ask_venues)


class SymbolMarket:
    """All venues' quotes for one symbol. Not thread-safe on its own: Market holds the lock."""

    def __init__(self, symbol: str, reference_price: Decimal, exchanges: Iterable[str],
                 rng: random.Random) -> None:
        exchanges = tuple(exchanges)
        if not exchanges:
            raise VenueConfigError(f"{symbol}: a market needs at least one exchange")
        if len(set(exchanges)) != len(exchanges):
            raise VenueConfigError(f"{symbol}: duplicate exchange names in {exchanges}")
        if not reference_price > 0:
            raise VenueConfigError(f"{symbol}: reference price {reference_price} must be positive")
        self.symbol = symbol
        self._rng = rng
        self._floor_reference_bid = TICK * (MAX_BACKOFF_TICKS + 1)
        self._reference_bid = max(reference_price.quantize(TICK), self._floor_reference_bid)
        self._quotes = {venue: self._fresh_quote(venue) for venue in exchanges}
        self._touch = best_touch(self._quotes.values())

    @classmethod
    def with_quotes(cls, symbol: str, quotes: Iterable[ExchangeQuote], rng: random.Random) -> SymbolMarket:
        """A market starting from explicit venue quotes (e.g. a documented example)."""
        quotes = tuple(quotes)
        reference = max(q.bid for q in quotes)
        market = cls(symbol, reference, [q.venue for q in quotes], rng)
        market._quotes = {q.venue: q for q in quotes}
        market._touch = best_touch(quotes)
        return market

    def quotes(self) -> tuple[ExchangeQuote, ...]:
        return tuple(self._quotes.values())

    def nbbo(self, now: datetime) -> Nbbo:
        t = self._touch
        return Nbbo(self.symbol, t.bid, t.bid_size, t.ask, t.ask_size, now, t.bid_venues, t.ask_venues)

    def step(self) -> None:
        """Random walk of the reference band by -1/0/+1 tick; every venue requotes around it."""
        move_ticks = self._rng.choice((-1, 0, 0, 1))
        self._reference_bid = max(self._reference_bid + TICK * move_ticks, self._floor_reference_bid)
        self._quotes = {venue: self._fresh_quote(venue) for venue in self._quotes}
        self._touch = best_touch(self._quotes.values())

    def take(self, side: Side, quantity: Decimal, limit_price: Decimal, now: datetime) -> TakenLiquidity | None:
        """Consume up to `quantity` from the touch a `side` taker trades against, if marketable.

        Venues at the touch are depleted in their listing order. A venue whose displayed size
        is exhausted shows its next level: one tick further away with a fresh size.
        """
        assert quantity > 0 and is_whole(quantity), f"bad take quantity {quantity}"
        before = self.nbbo(now)
        if not before.is_marketable(side, limit_price):
            return None
        taken = min(quantity, before.touch_size(side))
        remaining = taken
        for venue in before.touch_venues(side):
            if remaining == 0:
                break
            remaining = self._deplete(venue, side, remaining)
        assert remaining == 0, "touch size and venue sizes disagree"
        self._touch = best_touch(self._quotes.values())
        return TakenLiquidity(taken, before)

    def requote(self, quotes: Iterable[ExchangeQuote]) -> None:
        """Venues post new quotes (e.g. a scripted market move); the NBBO is recomputed.

        Raises InvalidQuote, leaving the market as it was, for an unknown venue or a book that would
        lock, cross or show no size on a side."""
        requoted = dict(self._quotes)
        for quote in quotes:
            if quote.venue not in requoted:
                raise InvalidQuote(f"{self.symbol}: unknown venue {quote.venue}")
            requoted[quote.venue] = quote
        touch = best_touch(requoted.values())
        self._quotes, self._touch = requoted, touch
        # The walk continues from where the venues now are, keeping the band invariant.
        self._reference_bid = max(self._touch.bid, self._floor_reference_bid)

    def _deplete(self, venue: str, side: Side, wanted: Decimal) -> Decimal:
        quote = self._quotes[venue]
        if side == Side.BUY:
            taken = min(wanted, quote.ask_size)
            if taken == quote.ask_size:
                replaced = ExchangeQuote(venue, quote.bid, quote.bid_size, quote.ask + TICK, self._fresh_size())
            else:
                replaced = ExchangeQuote(venue, quote.bid, quote.bid_size, quote.ask, quote.ask_size - taken)
        else:
            taken = min(wanted, quote.bid_size)
            if taken == quote.bid_size:
                # A bid cannot back off below one cent: it refills at the same price instead.
                next_bid = quote.bid - TICK if quote.bid > TICK else quote.bid
                replaced = ExchangeQuote(venue, next_bid, self._fresh_size(), quote.ask, quote.ask_size)
            else:
                replaced = ExchangeQuote(venue, quote.bid, quote.bid_size - taken, quote.ask, quote.ask_size)
        self._quotes[venue] = replaced
        return wanted - taken

    def _fresh_quote(self, venue: str) -> ExchangeQuote:
        bid = self._reference_bid - TICK * self._rng.randint(0, MAX_BACKOFF_TICKS)
        ask = self._reference_bid + TICK * (1 + self._rng.randint(0, MAX_BACKOFF_TICKS))
        return ExchangeQuote(venue, bid, self._fresh_size(), ask, self._fresh_size())

    def _fresh_size(self) -> Decimal:
        return Decimal(ROUND_LOT * self._rng.randint(MIN_LOTS, MAX_LOTS))


class Market:
    """Every simulated symbol. Thread-safe: the FIX worker reads while a ticker thread steps."""

    def __init__(self, symbols: dict[str, Decimal], seed: int,
                 exchanges: Iterable[str] = US_LIT_EXCHANGES) -> None:
        exchanges = tuple(exchanges)
        self._lock = threading.RLock()
        # One generator per symbol, seeded from (seed, symbol): a symbol's path does not depend
        # on which other symbols are listed. String seeds hash with SHA-512, stable across runs.
        self._symbols = {
            symbol: SymbolMarket(symbol, price, exchanges, random.Random(f"{seed}:{symbol}"))
            for symbol, price in symbols.items()
        }

    @classmethod
    def from_symbol_markets(cls, markets: Iterable[SymbolMarket]) -> Market:
        market = cls({}, seed=0)
        market._symbols = {m.symbol: m for m in markets}
        return market

    def has_symbol(self, symbol: str) -> bool:
        return symbol in self._symbols

    def symbols(self) -> tuple[str, ...]:
        return tuple(self._symbols)

    def nbbo(self, symbol: str, now: datetime) -> Nbbo:
        with self._lock:
            return self._symbol(symbol).nbbo(now)

    def quotes(self, symbol: str) -> tuple[ExchangeQuote, ...]:
        with self._lock:
            return self._symbol(symbol).quotes()

    def snapshot(self, symbol: str, now: datetime) -> BookSnapshot:
        """Venue quotes and NBBO together: a take cannot change one between reading the two."""
        with self._lock:
            market = self._symbol(symbol)
            return BookSnapshot(market.nbbo(now), market.quotes())

    def step_all(self) -> None:
        with self._lock:
            for market in self._symbols.values():
                market.step()

    def requote(self, symbol: str, quotes: Iterable[ExchangeQuote]) -> None:
        with self._lock:
            self._symbol(symbol).requote(quotes)

    def take(self, symbol: str, side: Side, quantity: Decimal, limit_price: Decimal,
             now: datetime) -> TakenLiquidity | None:
        """Check marketability and consume touch size atomically: a step cannot interleave."""
        with self._lock:
            return self._symbol(symbol).take(side, quantity, limit_price, now)

    def _symbol(self, symbol: str) -> SymbolMarket:
        try:
            return self._symbols[symbol]
        except KeyError:
            raise UnknownSymbol(symbol) from None
