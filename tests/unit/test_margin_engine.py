"""Margin through the real engine and SQL ledger: a buy on margin borrows at settlement (post-trade
equity in the settlement's transaction), a price fall makes the monitor open a CollateralConversion
RFQ, a solver fills it within the bound and the proceeds repay the borrow; retries and escalation."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.clock import FakeClock
from core.types import Side
from gateway.domain import outbound as out
from gateway.domain.policy import MarginTerms
from gateway.liquidation_models import LiquidationRow
from gateway.margin_ledger import covers_factory
from gateway.margin_monitor import MarginMonitor, MonitorSettings
from ledger.equity import EXCHANGE_OWNER, LENDING_POOL_OWNER, USDC_BORROW, fund_lending_pool
from ledger.lending import lend_usdc, snapshot_of
from ledger.margin import AssetMargin, MarginParameters, assess
from ledger.models import OutboxRow
from tests import stubs
from tests.unit.test_engine import Harness

PARAMETERS = MarginParameters(default_asset=AssetMargin(base_weight=Decimal("0.8"), k=Decimal(1),
                                                        imf_factor=Decimal("0.0001"), imf=Decimal("0.2"),
                                                        mmf=Decimal("0.1")))
FUNDING = [("REQ1", "USDC", "1000.00"), ("REQ1", "MSFT", "50"), ("SOLVER1", "USDC", "100000.00"),
           ("SOLVER1", "AAPL", "1000"), ("SOLVER2", "USDC", "100000.00"), ("SOLVER2", "AAPL", "1000")]
SETTINGS = MonitorSettings(interval=timedelta(seconds=5), buffer=Decimal("0.05"), price_band=Decimal("0.02"),
                           retry_after=timedelta(seconds=30), escalate_after=2)


class MarginHarness(Harness):
    """The engine harness with margin terms, a lending pool and the margin monitor."""

    def __init__(self, sessions, clock: FakeClock) -> None:
        self.marks = {"AAPL": Decimal(200), "MSFT": Decimal(400)}
        terms = MarginTerms(PARAMETERS, lambda: dict(self.marks), covers_factory(lambda: dict(self.marks),
                                                                                  PARAMETERS))
        super().__init__(sessions, clock, funding=FUNDING, policy=replace(stubs.policy(), margin=terms))
        self.monitor = MarginMonitor(self.engine, lambda: dict(self.marks), PARAMETERS, SETTINGS)

    def fund(self, uow) -> None:
        fund_lending_pool(uow.ledger, Decimal("1000000"), "pool")

    def margin(self, account="REQ1"):
        with self.uow() as uow:
            return assess(snapshot_of(uow.ledger, account), self.marks, PARAMETERS)

    def buy_on_margin(self, quantity=Decimal(20), price=Decimal("200.00")):
        self.engine.handle(stubs.request_quote(quantity=quantity))
        self.engine.handle(stubs.submit_quote(offer_price=price))
        self.engine.handle(stubs.accept_quote())
        self.engine.handle(stubs.report_fill(last_price=price, last_quantity=quantity))

    def events(self, kind):
        with self.uow() as uow:
            rows = list(uow.session.scalars(select(OutboxRow).where(OutboxRow.event_type == kind)))
            uow.session.expunge_all()
            return rows

    def liquidations(self):
        with self.uow() as uow:
            return [(row.status, row.attempts, row.symbol, row.quantity, row.limit_price)
                    for row in uow.session.scalars(select(LiquidationRow).order_by(LiquidationRow.id))]


@pytest.fixture
def harness(sessions):
    return MarginHarness(sessions, FakeClock(stubs.T0))


def test_a_buy_beyond_cash_borrows_at_settlement_within_mmf(harness):
    harness.buy_on_margin()  # 4000 USDC with 1000 in cash: 3000 borrowed against 50 MSFT + the new AAPL
    [fill] = [r for r in harness.take(out.RequesterReport, to="REQ1") if r.kind is out.ReportKind.FILL]
    assert fill.last_quantity == Decimal(20)
    assert harness.balance("REQ1", "USDC").available == 0
    assert harness.balance("REQ1", USDC_BORROW).available == Decimal(3000)
    assert harness.balance("REQ1", "AAPL").available == Decimal(20)
    assert harness.balance("SOLVER1", "USDC").available == Decimal("104000.00")
    assert harness.balance(EXCHANGE_OWNER, "USDC").available == 0
    assert harness.balance(LENDING_POOL_OWNER, "USDC").available == Decimal(997000)
    assert harness.margin().meets(Decimal("0.2"))
    [settled] = harness.events("EquitySettled")  # every step visible in events, in the same transaction
    assert settled.rfq_id == 1 and '"borrowed_usdc":"3000.00"' in settled.payload
    assert harness.invariants() == []


def test_lends_are_redeemed_before_borrowing(harness):
    with harness.uow() as uow:
        uow.ledger.deposit("REQ1", "USDC", Decimal(500), "more")
        lend_usdc(uow.ledger, "REQ1", Decimal(500), "lend-1")
        uow.commit()
    harness.buy_on_margin()
    assert harness.balance("REQ1", "USDC_LEND").available == 0
    assert harness.balance("REQ1", USDC_BORROW).available == Decimal(2500)
    assert harness.invariants() == []


def test_a_buy_the_collateral_does_not_cover_at_imf_is_refused_before_anything_is_locked(harness):
    harness.engine.handle(stubs.request_quote(quantity=Decimal(400), limit_price=Decimal(200)))  # 80 000 USDC
    [reject] = harness.take(out.RejectQuoteRequest)
    assert "buying power" in reject.text
    assert harness.balance("REQ1", "USDC").locked == 0


def test_a_price_fall_opens_a_collateral_conversion_that_repays_the_borrow(harness):
    harness.buy_on_margin()
    harness.monitor.tick()
    assert harness.liquidations() == []
    harness.marks.update({"AAPL": Decimal(100), "MSFT": Decimal(40)})  # collateral 3200 < 3000 x 1.1
    assert harness.margin().below_maintenance
    harness.monitor.mark_changed("AAPL")
    harness.sent.clear()
    harness.monitor.tick()
    [(status, attempts, symbol, quantity, limit)] = harness.liquidations()
    assert (status, attempts, symbol, limit) == ("open", 1, "AAPL", Decimal("98.00"))
    forwarded = harness.take(out.ForwardQuoteRequest)
    assert {m.to for m in forwarded} == {"SOLVER1", "SOLVER2"} and forwarded[0].side is Side.SELL
    assert forwarded[0].quantity == quantity
    harness.engine.handle(stubs.submit_quote(quote_req_id=forwarded[0].quote_req_id, bid_price=Decimal("99.00"),
                                             offer_price=None))
    [accepted] = harness.take(out.NotifyQuoteAccepted)  # Immediate: accepted at once, within the bound
    harness.engine.handle(stubs.report_fill(quote_resp_id=accepted.quote_resp_id, last_price=Decimal("99.00"),
                                            last_quantity=quantity))
    reports = harness.take(out.RequesterReport, to="REQ1")
    assert reports and all(r.cl_ord_id.startswith("LIQ-") for r in reports)  # the holder can tell them apart
    assert harness.balance("REQ1", USDC_BORROW).available == Decimal(3000) - quantity * Decimal(99)
    assert not harness.margin().below_maintenance
    harness.clock.advance(5)
    harness.monitor.tick()
    assert harness.liquidations()[0][0] == "filled"
    assert len(harness.events("CollateralConversionOpened")) == 1 and len(harness.events("LiquidationFilled")) == 1
    assert len(harness.events("BorrowRepaid")) == 1
    assert harness.invariants() == []


def test_no_quote_within_the_bound_retries_on_schedule_then_escalates(harness):
    harness.buy_on_margin()
    harness.marks.update({"AAPL": Decimal(100), "MSFT": Decimal(40)})
    harness.monitor.tick()
    assert harness.liquidations()[0][:2] == ("open", 1)
    harness.clock.advance(61)  # the Immediate RFQ's window ends without a quote
    harness.engine.tick()
    harness.monitor.tick()
    assert harness.liquidations()[0][:2] == ("retrying", 1)
    harness.clock.advance(30)
    harness.monitor.tick()
    assert harness.liquidations()[0][:2] == ("open", 2)
    harness.clock.advance(61)
    harness.engine.tick()
    harness.monitor.tick()
    assert harness.liquidations()[0][:2] == ("escalated", 2)
    assert len(harness.events("LiquidationEscalated")) == 1
    assert harness.invariants() == []
