"""Scripted counterparties for `rfq-gateway demo`: a requester and quoting solvers,
talking to the gateway over real FIX sessions like any outside firm would."""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from core.clock import utc_now
from transport.fix import tags as t
from transport.fix.client import FixClient, Received

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Outcome:
    client_req_id: str
    messages: list[Received]

    def last(self, msg_type: str) -> Received | None:
        matching = [m for m in self.messages if m.msg_type == msg_type]
        return matching[-1] if matching else None


class ScriptedSolver:
    """Quotes every RFQ at the NBBO widened by `spread_bps`, and fills at its quoted price when it wins."""

    def __init__(self, client: FixClient, nbbo: Callable[[str], tuple[Decimal, Decimal] | None],
                 spread_bps: dict[str, Decimal], default_spread_bps: Decimal,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.client = client
        self._now = now
        self._nbbo = nbbo
        self._spread_bps = spread_bps
        self._default = default_spread_bps
        self._stop = threading.Event()
        self._quotes: dict[str, tuple[str, Decimal, Decimal]] = {}
        self._thread = threading.Thread(target=self._run, name=f"solver-{client.comp_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                message = self.client.wait_for(lambda m: m.msg_type in ("R", "AJ"), timeout_s=0.2)
            except TimeoutError:
                continue
            if message.msg_type == "R":
                self._quote(message)
            else:
                self._fill(message)

    def _quote(self, request: Received) -> None:
        symbol = request[t.SYMBOL]
        reference = self._nbbo(symbol)
        if reference is None:
            return  # no price to quote from: a solver stays out rather than guess
        bid, ask = reference
        spread = self._spread_bps.get(symbol, self._default) / Decimal(10_000)
        my_bid = (bid * (1 - spread)).quantize(CENT, rounding=ROUND_FLOOR)
        my_ask = (ask * (1 + spread)).quantize(CENT, rounding=ROUND_CEILING)
        quote_id = f"{self.client.comp_id}-{request[t.QUOTE_REQ_ID]}"
        self._quotes[quote_id] = (symbol, my_bid, my_ask)
        valid_until = self._now() + timedelta(seconds=30)
        self.client.send("S", [(t.QUOTE_REQ_ID, request[t.QUOTE_REQ_ID]), (t.QUOTE_ID, quote_id),
                               (t.SYMBOL, symbol), (t.BID_PX, my_bid), (t.OFFER_PX, my_ask),
                               (t.BID_SIZE, Decimal(100_000)), (t.OFFER_SIZE, Decimal(100_000)),
                               (t.VALID_UNTIL_TIME, valid_until)])

    def _fill(self, acceptance: Received) -> None:
        price, quantity = Decimal(acceptance[t.PRICE]), Decimal(acceptance[t.ORDER_QTY])
        self.client.send("8", [
            (t.ORDER_ID, acceptance[t.QUOTE_RESP_ID]), (t.QUOTE_RESP_ID, acceptance[t.QUOTE_RESP_ID]),
            (t.EXEC_ID, f"{self.client.comp_id}-{acceptance[t.QUOTE_RESP_ID]}"), (t.EXEC_TYPE, "F"),
            (t.ORD_STATUS, "2"), (t.SYMBOL, acceptance[t.SYMBOL]), (t.SIDE, acceptance[t.SIDE]),
            (t.LAST_QTY, quantity), (t.LAST_PX, price), (t.LEAVES_QTY, 0), (t.CUM_QTY, quantity),
            (t.AVG_PX, price),
        ])


class ScriptedRequester:
    def __init__(self, client: FixClient) -> None:
        self.client = client
        self._sequence = 0

    def request(self, symbol: str, side: str, quantity: Decimal, limit: Decimal | None = None) -> str:
        self._sequence += 1
        client_req_id = f"{self.client.comp_id}-{self._sequence:03d}"
        entry: list[tuple[int, object]] = [(t.SYMBOL, symbol), (t.SIDE, "1" if side == "buy" else "2"),
                                           (t.ORDER_QTY, quantity)]
        if limit is not None:
            entry.append((t.PRICE, limit))
        self.client.send("R", [(t.QUOTE_REQ_ID, client_req_id)], groups=[(t.NO_RELATED_SYM, t.SYMBOL, entry)])
        return client_req_id

    def collect_quotes(self, client_req_id: str, settle_s: float) -> Received | None:
        """Every best quote the gateway shows during `settle_s`; returns the latest (the current best)."""
        best = None
        try:
            while True:
                best = self.client.wait_for(
                    lambda m: m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == client_req_id, timeout_s=settle_s)
        except TimeoutError:
            return best

    def accept(self, quote: Received) -> str:
        resp_id = f"acc-{quote[t.QUOTE_ID]}"
        self.client.send("AJ", [(t.QUOTE_RESP_ID, resp_id), (t.QUOTE_ID, quote[t.QUOTE_ID]),
                                (t.QUOTE_RESP_TYPE, 1), (t.SYMBOL, quote[t.SYMBOL])])
        return resp_id

    def wait_report(self, cl_ord_id: str, exec_types: tuple[str, ...], timeout_s: float = 15.0) -> Received:
        """The requester's execution report of one of `exec_types`, or the BusinessMessageReject refusing it."""
        return self.client.wait_for(
            lambda m: (m.msg_type == "8" and m.get(t.CL_ORD_ID) == cl_ord_id and m.get(t.EXEC_TYPE) in exec_types)
            or (m.msg_type == "j" and m.get(t.BUSINESS_REJECT_REF_ID) == cl_ord_id), timeout_s=timeout_s)

    def wait_for(self, msg_type: str, tag: int, value: str, timeout_s: float = 10.0) -> Received:
        return self.client.wait_for(lambda m: m.msg_type == msg_type and m.get(tag) == value, timeout_s=timeout_s)
