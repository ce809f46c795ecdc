"""Mark prices for collateral: the NBBO mid in a trading session, the last close outside sessions.

Rules (README "Collateral and margin"):
  * USDC (and USDC lent) is marked at exactly 1.
  * In a session, with an NBBO no older than `staleness`: the mid, (bid + ask) / 2.
  * In a session with a stale or missing NBBO: the last close, flagged `stale` (the monitor still
    uses it -- an old price is better than none -- and `admin margin` shows the flag).
  * Outside every session (nights, weekends, holidays): the last close, which is not stale.
  * A symbol with neither: no mark; its shares count as zero collateral.

`MarkBook` keeps the latest of each and tells listeners when a symbol's mark changes, so the
margin monitor can re-check accounts on every mark change as well as on its timer. The last NBBO
mid seen in a session becomes the close once the session is over (until then the configured
reference price is the close).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, localcontext

from core.money import CASH_ASSET, EXACT_CONTEXT
from ledger.margin import USDC_LEND

__all__ = ["LAST_CLOSE", "NBBO_MID", "PAR", "Mark", "MarkBook", "mark_of"]

NBBO_MID = "nbbo_mid"
LAST_CLOSE = "last_close"
PAR = "par"


@dataclass(frozen=True)
class Mark:
    symbol: str
    price: Decimal
    source: str  # NBBO_MID, LAST_CLOSE or PAR
    as_of: datetime | None
    stale: bool = False


@dataclass(frozen=True)
class _Quote:
    bid: Decimal
    ask: Decimal
    at: datetime


def mark_of(symbol: str, now: datetime, in_session: bool, nbbo: tuple[Decimal, Decimal, datetime] | None,
            close: tuple[Decimal, datetime] | None, staleness: timedelta) -> Mark | None:
    """The mark of one symbol (pure; the rules in the module docstring)."""
    if symbol in (CASH_ASSET, USDC_LEND):
        return Mark(symbol, Decimal(1), PAR, None)
    if in_session and nbbo is not None:
        bid, ask, at = nbbo
        if bid > 0 and ask >= bid and now - at <= staleness:
            with localcontext(EXACT_CONTEXT):
                return Mark(symbol, (bid + ask) / 2, NBBO_MID, at)
    if close is not None:
        return Mark(symbol, close[0], LAST_CLOSE, close[1], stale=in_session)
    if nbbo is not None and nbbo[0] > 0 and nbbo[1] >= nbbo[0]:
        with localcontext(EXACT_CONTEXT):
            return Mark(symbol, (nbbo[0] + nbbo[1]) / 2, NBBO_MID, nbbo[2], stale=True)
    return None


MarkListener = Callable[[str], None]


class MarkBook:
    """The latest NBBO and close per symbol; marks on demand, listeners on change."""

    def __init__(self, staleness: timedelta, in_session: Callable[[str, datetime], bool]) -> None:
        self._staleness = staleness
        self._in_session = in_session
        self._nbbo: dict[str, _Quote] = {}
        self._close: dict[str, tuple[Decimal, datetime]] = {}
        self._session_mid: dict[str, tuple[Decimal, datetime]] = {}  # the last mid seen in a session
        self._listeners: list[MarkListener] = []

    def subscribe(self, listener: MarkListener) -> None:
        self._listeners.append(listener)

    def update_nbbo(self, symbol: str, bid: Decimal, ask: Decimal, at: datetime) -> None:
        previous = self._nbbo.get(symbol)
        self._nbbo[symbol] = _Quote(bid, ask, at)
        if self._in_session(symbol, at) and bid > 0 and ask >= bid:
            with localcontext(EXACT_CONTEXT):
                self._session_mid[symbol] = ((bid + ask) / 2, at)
        if previous is None or (previous.bid, previous.ask) != (bid, ask):
            self._notify(symbol)

    def update_close(self, symbol: str, price: Decimal, at: datetime) -> None:
        previous = self._close.get(symbol)
        self._close[symbol] = (price, at)
        if previous is None or previous[0] != price:
            self._notify(symbol)

    def mark(self, symbol: str, now: datetime) -> Mark | None:
        quote = self._nbbo.get(symbol)
        nbbo = (quote.bid, quote.ask, quote.at) if quote is not None else None
        close, last_mid = self._close.get(symbol), self._session_mid.get(symbol)
        if last_mid is not None and (close is None or last_mid[1] > close[1]):
            close = last_mid  # the session's last mid is the latest close
        return mark_of(symbol, now, self._in_session(symbol, now), nbbo, close, self._staleness)

    def marks(self, symbols: frozenset[str] | set[str], now: datetime) -> dict[str, Decimal]:
        found = {symbol: self.mark(symbol, now) for symbol in symbols}
        return {symbol: mark.price for symbol, mark in found.items() if mark is not None}

    def symbols(self) -> frozenset[str]:
        return frozenset(self._nbbo) | frozenset(self._close)

    def _notify(self, symbol: str) -> None:
        for listener in self._listeners:
            listener(symbol)
