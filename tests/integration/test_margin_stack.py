"""The margin wiring of the running stack: marks from the in-process venue, the margin terms in the
gateway's policy, the monitor on the engine's tick, the house funds, the reserves job."""
from __future__ import annotations

import time
from datetime import datetime, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from sqlalchemy import select

from app.stack import Stack
from core.clock import FakeClock
from gateway.liquidation_models import LiquidationRow
from gateway.models import RfqRow
from ledger.equity import LENDING_POOL_OWNER, LIQUIDITY_FUND_OWNER, settle_equity
from tests.integration.conftest import stack_settings, wait_until
from venue_sim.market import ExchangeQuote

FRIDAY_10AM = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
CENT = Decimal("0.01")


@pytest.fixture
def stack(tmp_path):
    built = Stack(stack_settings(tmp_path), clock=FakeClock(FRIDAY_10AM), with_broker=False)
    built.start()
    yield built
    built.stop()


def _liquidations(stack: Stack) -> list[tuple[LiquidationRow, RfqRow]]:
    with stack.uow() as uow:
        rows = [(row, uow.session.get(RfqRow, row.rfq_id)) for row in uow.session.scalars(select(LiquidationRow))]
        uow.session.expunge_all()
    return rows


def _fall(stack: Stack, symbol: str, factor: Decimal) -> None:
    quotes = [ExchangeQuote(q.venue, (q.bid * factor).quantize(CENT, ROUND_FLOOR), q.bid_size,
                            max((q.ask * factor).quantize(CENT, ROUND_CEILING), (q.bid * factor).quantize(
                                CENT, ROUND_FLOOR) + CENT), q.ask_size) for q in stack.market.quotes(symbol)]
    stack.market.requote(symbol, quotes)


def test_a_fall_on_the_venue_makes_the_engine_tick_open_a_collateral_conversion(stack):
    assert stack.engine.policy.margin is not None and stack.margin is not None
    assert stack.balance(LENDING_POOL_OWNER, "USDC").available == Decimal(20_000_000)
    assert stack.balance(LIQUIDITY_FUND_OWNER, "USDC").available == Decimal(1_000_000)
    marks = stack.margin.marks.marks()
    assert set(marks) == {"AAPL", "MSFT", "NVDA"} and abs(marks["MSFT"] - Decimal("415.2")) < 1
    with stack.uow() as uow:  # REQ3 borrows near its MMF limit against 500 MSFT (166 080 x 0.8 / 1.1)
        uow.ledger.deposit("REQ3", "MSFT", Decimal(500), "shares")
        uow.ledger.transfer("REQ3", "external", "USDC", Decimal(100_000), "spent", "spent elsewhere")
        settle_equity(uow.ledger, "REQ3", Decimal("-140000.00"), Decimal("150000.00"), "borrow")
        uow.commit()
    stack.clock.advance(stack.settings.margin.monitor_interval_s)
    time.sleep(0.5)  # the engine ticks every 50 ms: a check ran and found REQ3 above MMF
    assert _liquidations(stack) == []
    _fall(stack, "MSFT", Decimal("0.8"))  # the mark change makes the next tick check at once
    wait_until(lambda: _liquidations(stack), what="a collateral conversion")
    [(row, rfq)] = _liquidations(stack)
    assert (row.account, row.session, row.symbol, row.status, row.attempts) == ("REQ3", "REQ3", "MSFT", "open", 1)
    assert (rfq.client_req_id, rfq.side, rfq.requester_session) == ("LIQ-1-1", "sell", "REQ3")
    assert stack.publish_reserves("cli") == 1
