"""The margin wiring of the stack (not started: no sockets): marks from the in-process venue, the
margin terms in the gateway's policy, the monitor on the engine's tick, the house funds, reserves."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import pytest
from sqlalchemy import select

from app.stack import Stack
from core.clock import FakeClock
from gateway.liquidation_models import LiquidationRow
from gateway.models import RfqRow
from ledger.equity import LENDING_POOL_OWNER, LIQUIDITY_FUND_OWNER, settle_equity
from tests.integration.conftest import stack_settings
from venue_sim.market import ExchangeQuote

FRIDAY_10AM = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)
CENT = Decimal("0.01")


@pytest.fixture
def stack(tmp_path):
    built = Stack(stack_settings(tmp_path), clock=FakeClock(FRIDAY_10AM), with_broker=False)
    yield built
    built.db_engine.dispose()


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
    stack._engine_tick()
    with stack.uow() as uow:
        assert uow.session.scalars(select(LiquidationRow)).all() == []
    _fall(stack, "MSFT", Decimal("0.8"))
    stack.clock.advance(stack.settings.margin.monitor_interval_s)  # at the latest one monitor period later
    stack._engine_tick()
    with stack.uow() as uow:
        [row] = uow.session.scalars(select(LiquidationRow)).all()
        rfq = uow.session.scalars(select(RfqRow).where(RfqRow.id == row.rfq_id)).one()
        uow.session.expunge_all()
    assert (row.account, row.session, row.symbol, row.status, row.attempts) == ("REQ3", "REQ3", "MSFT", "open", 1)
    assert (rfq.client_req_id, rfq.side, rfq.requester_session) == ("LIQ-1-1", "sell", "REQ3")
    assert stack.publish_reserves("cli") == 1
