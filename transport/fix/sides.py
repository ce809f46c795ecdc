"""Side (54) in FIX: the one place that maps core's Side to its codes and back."""
from __future__ import annotations

from core.types import Side
from transport.fix import tags as t
from transport.fix.errors import BadFieldValue

SIDES = {t.SIDE_BUY: Side.BUY, t.SIDE_SELL: Side.SELL}
SIDE_CODES = {Side.BUY: t.SIDE_BUY, Side.SELL: t.SIDE_SELL}


def parse_side(raw: str) -> Side:
    try:
        return SIDES[raw]
    except KeyError:
        raise BadFieldValue(t.SIDE, raw, "1 (Buy) or 2 (Sell)") from None
