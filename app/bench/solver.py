"""A solver load process: one QuickFIX initiator session that answers every QuoteRequest (R) at once
with a two-sided Quote (S), reports its fill with an ExecutionReport (8, 150=F) as soon as its quote
is accepted (AJ), and takes the gateway's ExecutionAcknowledgement (BN) of each report."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import quickfix as fix

from app.bench.fixload import LoadApplication, LoadSpec, new_message, set_field
from transport.fix import tags as t

QUOTE_SIZE = "1000000"
EXEC_ACK_ACCEPTED = "1"


def quote_prices(reference: str, solver_index: int) -> tuple[Decimal, Decimal]:
    """A bench solver's bid and offer around the reference price: solver n (from 0) quotes 25 + 5n bps
    away, wider than the broker connector's default margin (20 bps), so with --accept-after-ms the
    connector wins the RFQs its quote reaches in time."""
    spread = Decimal(25 + 5 * solver_index) / Decimal(10_000)
    price = Decimal(reference)
    cent = Decimal("0.01")
    return (price * (1 - spread)).quantize(cent), (price * (1 + spread)).quantize(cent)


class SolverLoad(LoadApplication):
    def __init__(self, spec: LoadSpec) -> None:
        super().__init__(spec)
        options = spec.options or {}
        self._prices = {symbol: tuple(str(p) for p in quote_prices(reference, options["index"]))
                        for symbol, reference in options["reference_prices"].items()}
        self.events: Counter[str] = Counter()

    def on_message(self, msg_type: str, message: fix.Message) -> None:
        if msg_type == "R":
            self._quote(message)
        elif msg_type == "AJ":
            self._fill(message)
        elif msg_type == "BN":
            accepted = message.getField(t.EXEC_ACK_STATUS) == EXEC_ACK_ACCEPTED
            self.events["fills_acknowledged" if accepted else "fills_refused"] += 1
        elif msg_type == "AI":
            self.events[f"quote_status_{message.getField(t.QUOTE_STATUS)}"] += 1
        else:
            self.events[f"other_{msg_type}"] += 1

    def _quote(self, request: fix.Message) -> None:
        entry = fix.Group(t.NO_RELATED_SYM, t.SYMBOL)
        request.getGroup(1, entry)
        symbol = entry.getField(t.SYMBOL)
        req_id = request.getField(t.QUOTE_REQ_ID)
        bid, offer = self._prices.get(symbol, ("", ""))
        if not bid:
            self.events["unknown_symbol"] += 1
            return
        quote = new_message("S")
        set_field(quote, t.QUOTE_REQ_ID, req_id)
        set_field(quote, t.QUOTE_ID, f"{self.spec.comp_id}-{req_id}")
        set_field(quote, t.SYMBOL, symbol)
        set_field(quote, t.BID_PX, bid)
        set_field(quote, t.OFFER_PX, offer)
        set_field(quote, t.BID_SIZE, QUOTE_SIZE)
        set_field(quote, t.OFFER_SIZE, QUOTE_SIZE)
        self.events["quotes"] += 1
        self.send(quote)

    def _fill(self, acceptance: fix.Message) -> None:
        resp_id = acceptance.getField(t.QUOTE_RESP_ID)
        price, quantity = acceptance.getField(t.PRICE), acceptance.getField(t.ORDER_QTY)
        report = new_message("8")
        for tag, value in ((t.ORDER_ID, resp_id), (t.QUOTE_RESP_ID, resp_id),
                           (t.EXEC_ID, f"{self.spec.comp_id}-{resp_id}"), (t.EXEC_TYPE, "F"), (t.ORD_STATUS, "2"),
                           (t.SYMBOL, acceptance.getField(t.SYMBOL)), (t.SIDE, acceptance.getField(t.SIDE)),
                           (t.LAST_QTY, quantity), (t.LAST_PX, price), (t.LEAVES_QTY, "0"), (t.CUM_QTY, quantity),
                           (t.AVG_PX, price)):
            set_field(report, tag, value)
        self.events["fills_reported"] += 1
        self.send(report)

    def counters(self) -> dict[str, Any]:
        return {**super().counters(), "events": dict(self.events)}
