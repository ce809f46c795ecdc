"""Stateful property test of the margin loop on the real engine and SQLite: random price paths,
margin buys, time passing and solvers answering (or not) the CollateralConversion RFQs.

Property: an account never stays below MMF for longer than one monitor period without a
CollateralConversion RFQ opened for it since it fell below (or one still live); the ledger's
invariants hold throughout, and collateral is exactly the formula at every step."""
from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from sqlalchemy import select

from core.clock import FakeClock
from gateway.domain import outbound as out
from gateway.liquidation_models import LiquidationRow
from gateway.margin_monitor import MarginMonitor, MonitorSettings
from ledger.margin import weight
from ledger.models import OutboxRow
from tests import stubs
from tests.state_machines import SqliteExampleMachine, migrated_template, run_machine
from tests.unit.test_margin_engine import PARAMETERS, MarginHarness

INTERVAL = timedelta(seconds=5)
# Retries as often as the monitor looks: a failed attempt is followed by another within one period.
MONITOR = MonitorSettings(interval=INTERVAL, buffer=Decimal("0.05"), price_band=Decimal("0.02"),
                          retry_after=INTERVAL, escalate_after=3)
CENT = Decimal("0.01")


class MarginMachine(SqliteExampleMachine):
    def __init__(self) -> None:
        super().__init__()
        self.harness = MarginHarness(self.sessions, FakeClock(stubs.T0))
        self.harness.monitor = MarginMonitor(self.harness.engine, lambda: dict(self.harness.marks), PARAMETERS,
                                             MONITOR)
        self.below_since: datetime | None = None

    # -- rules --------------------------------------------------------------------------------
    @rule(symbol=st.sampled_from(["AAPL", "MSFT"]),
          factor=st.decimals(min_value=Decimal("0.30"), max_value=Decimal("1.30"), places=2))
    def move_price(self, symbol: str, factor: Decimal) -> None:
        marks = self.harness.marks
        marks[symbol] = max(CENT, (marks[symbol] * factor).quantize(CENT, rounding=ROUND_HALF_EVEN))
        self.harness.monitor.mark_changed(symbol)
        self.harness.monitor.tick()  # the engine's worker ticks right after a mark change

    @rule(seconds=st.integers(min_value=1, max_value=5))
    def time_passes(self, seconds: int) -> None:
        self.harness.clock.advance(seconds)
        self.harness.engine.tick()
        self.harness.monitor.tick()

    @rule(quantity=st.integers(min_value=1, max_value=90))
    def buy_on_margin(self, quantity: int) -> None:
        harness, n = self.harness, self._fresh("")
        price = harness.marks["AAPL"].quantize(CENT)
        harness.sent.clear()
        harness.engine.handle(stubs.request_quote(client_req_id=f"b{n}", quantity=Decimal(quantity)))
        forwarded = harness.take(out.ForwardQuoteRequest)
        if not forwarded:
            return  # refused: not enough buying power at IMF
        harness.engine.handle(stubs.submit_quote(quote_req_id=forwarded[0].quote_req_id, solver_quote_id=f"s{n}",
                                                 offer_price=price))
        presented = harness.take(out.PresentQuote, to="REQ1")
        harness.engine.handle(stubs.accept_quote(client_resp_id=f"a{n}", quote_id=presented[-1].quote_id))
        accepted = harness.take(out.NotifyQuoteAccepted)
        if accepted:
            harness.engine.handle(stubs.report_fill(quote_resp_id=accepted[0].quote_resp_id, exec_id=f"e{n}",
                                                    last_price=price, last_quantity=Decimal(quantity)))

    @rule(fill=st.booleans())
    def solver_answers_conversions(self, fill: bool) -> None:
        if not fill:
            return  # nobody quotes within the bound: the attempt expires and is retried
        harness = self.harness
        with harness.uow() as uow:
            live = [(row.rfq_id, row.symbol, row.quantity, row.limit_price) for row in
                    uow.session.scalars(select(LiquidationRow).where(LiquidationRow.status == "open"))]
        for rfq_id, symbol, quantity, limit in live:
            n = self._fresh("")
            harness.sent.clear()
            harness.engine.handle(stubs.submit_quote(solver="SOLVER2", solver_quote_id=f"l{n}",
                                                     quote_req_id=f"rfq-{rfq_id}", symbol=symbol, bid_price=limit,
                                                     offer_price=None))
            for accepted in harness.take(out.NotifyQuoteAccepted, to="SOLVER2"):
                harness.engine.handle(stubs.report_fill(solver="SOLVER2", quote_resp_id=accepted.quote_resp_id,
                                                        exec_id=f"le{n}", last_price=limit, last_quantity=quantity))

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def never_below_mmf_for_a_period_without_a_conversion(self) -> None:
        harness = self.harness
        margin = harness.margin()
        now = harness.clock.now()
        if not margin.below_maintenance or not margin.positions:
            self.below_since = None
            return
        if self.below_since is None:
            self.below_since = now
        if now - self.below_since < INTERVAL:
            return
        with harness.uow() as uow:
            live = uow.session.scalars(select(LiquidationRow).where(LiquidationRow.account == "REQ1",
                                                                    LiquidationRow.status == "open")).first()
            opened = [row.occurred_at for row in uow.session.scalars(
                select(OutboxRow).where(OutboxRow.event_type == "CollateralConversionOpened"))]
        assert live is not None or any(at >= self.below_since for at in opened), (
            f"REQ1 below MMF since {self.below_since}, now {now}, no conversion opened")

    @invariant()
    def collateral_is_exact_and_the_ledger_balances(self) -> None:
        harness = self.harness
        margin = harness.margin()
        expected = margin.cash + sum((q * harness.marks[s] * weight(q * harness.marks[s], PARAMETERS.asset(s))
                                      for s, q in ((v.symbol, v.quantity) for v in margin.positions)), Decimal(0))
        assert margin.collateral == expected
        assert harness.invariants() == []


def test_margin_loop_properties(tmp_path_factory):
    template = migrated_template(tmp_path_factory, "margin-template")
    run_machine(MarginMachine, template, tmp_path_factory.mktemp("margin-work"), max_examples=40, steps=25)
