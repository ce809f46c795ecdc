"""The demo's margin scenario: REQ3 buys MSFT on margin (borrowing USDC against the shares), the
price falls on the simulated venue, the margin monitor opens a CollateralConversion RFQ, a solver
fills it within the bound, the proceeds repay the borrow; margin before and after is printed."""
from __future__ import annotations

import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import select

from app.demo_clients import ScriptedRequester
from gateway.liquidation_models import LiquidationRow
from ledger.equity import USDC_BORROW
from ledger.lending import snapshot_of
from ledger.margin import assess
from ops.margin_admin import summary_lines
from transport.fix import tags as t
from venue_sim.market import ExchangeQuote

if TYPE_CHECKING:
    from app.stack import Stack

MARGIN_ACCOUNT = "REQ3"  # 100 000 USDC; its jurisdiction allows MSFT
SYMBOL = "MSFT"
QUANTITY = Decimal(550)  # about 228 000 USDC: some 128 000 borrowed
PRICE_FALL = Decimal("0.25")
CENT = Decimal("0.01")
LIQUIDATION_WAIT_S = 30.0


def margin_scenario(stack: Stack, requester: ScriptedRequester, out) -> None:
    print(f"\nMargin: {MARGIN_ACCOUNT} buys {QUANTITY} {SYMBOL} with "
          f"{stack.balance(MARGIN_ACCOUNT, 'USDC').available} USDC, borrowing the rest against the shares:",
          file=out)
    client_req_id = requester.request(SYMBOL, "buy", QUANTITY)
    best = requester.collect_quotes(client_req_id, 1.0)
    if best is None:
        print(f"  {client_req_id}: no quote; margin scenario skipped", file=out)
        return
    report = requester.wait_report(requester.accept(best), ("F", "8"))
    print(f"  {client_req_id}: bought {report.get(t.LAST_QTY, '0')} @ {report.get(t.LAST_PX, '-')}; "
          f"borrowed {stack.balance(MARGIN_ACCOUNT, USDC_BORROW).available} USDC", file=out)
    _print_margin(stack, "before the fall", out)
    _move_venue(stack, SYMBOL, 1 - PRICE_FALL)
    print(f"\n  {SYMBOL} falls {PRICE_FALL:.0%} on the simulated venue (NBBO now "
          f"{'/'.join(str(p) for p in stack.reference(SYMBOL) or ())}); the monitor sees the mark change ...", file=out)
    liquidation = _wait_liquidation(stack)
    if liquidation is None:
        print("  no liquidation filled in time", file=out)
        _print_margin(stack, "now", out)
        return
    print(f"  CollateralConversion {liquidation.id}: sell {liquidation.quantity} {liquidation.symbol} "
          f"(shortfall {liquidation.shortfall:.2f} USDC + buffer), bound {liquidation.limit_price} "
          f"(mark {liquidation.mark:.3f} - 2 %), RFQ {liquidation.rfq_id}: {liquidation.status}", file=out)
    try:
        fill = requester.client.wait_for(lambda m: m.msg_type == "8" and (m.get(t.CL_ORD_ID) or "").startswith("LIQ-")
                                         and m.get(t.EXEC_TYPE) == "F", timeout_s=5)
        print(f"  {MARGIN_ACCOUNT}'s session got ExecutionReport ClOrdID={fill[t.CL_ORD_ID]}: sold "
              f"{fill.get(t.LAST_QTY)} @ {fill.get(t.LAST_PX)} (LIQ- marks a liquidation)", file=out)
    except TimeoutError:
        print(f"  (no liquidation ExecutionReport reached {MARGIN_ACCOUNT}'s session)", file=out)
    _print_margin(stack, "after the liquidation", out)


def _print_margin(stack: Stack, label: str, out) -> None:
    assert stack.margin is not None, "the margin scenario needs [margin] enabled"
    with stack.uow() as uow:
        margin = assess(snapshot_of(uow.ledger, MARGIN_ACCOUNT), stack.margin.marks.marks(), stack.margin.parameters)
    print(f"  margin of {MARGIN_ACCOUNT} {label}:", file=out)
    for line in summary_lines(margin):
        print(f"    {line}", file=out)


def _move_venue(stack: Stack, symbol: str, factor: Decimal) -> None:
    """Every exchange requotes at `factor` of its prices (a scripted market move)."""
    market = stack.market
    assert market is not None, "the demo runs the venue in process"
    moved = []
    for quote in market.quotes(symbol):
        bid = (quote.bid * factor).quantize(CENT, rounding=ROUND_FLOOR)
        ask = max((quote.ask * factor).quantize(CENT, rounding=ROUND_CEILING), bid + CENT)
        moved.append(ExchangeQuote(quote.venue, bid, quote.bid_size, ask, quote.ask_size))
    market.requote(symbol, moved)


def _wait_liquidation(stack: Stack) -> LiquidationRow | None:
    deadline = time.monotonic() + LIQUIDATION_WAIT_S
    while time.monotonic() < deadline:
        with stack.uow() as uow:
            row = uow.session.scalars(select(LiquidationRow).where(LiquidationRow.account == MARGIN_ACCOUNT)
                                      .order_by(LiquidationRow.id.desc()).limit(1)).one_or_none()
            if row is not None and row.status == "filled":
                uow.session.expunge(row)
                return row
        time.sleep(0.2)
    return None
