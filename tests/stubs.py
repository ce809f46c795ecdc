"""Test stubs with overridable fields (Nautilus style): build domain values in one line."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from core.types import QuoteId, RfqId, SessionName, Side
from gateway.domain.commands import (
    AcceptQuote,
    ExecutionOutcome,
    ReportExecution,
    RequestQuote,
    ResponseType,
    SubmitQuote,
)
from gateway.domain.policy import Counterparty, GatewayPolicy, Role
from gateway.domain.quotes import Quote
from gateway.domain.rfq import Rfq, RfqState

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def rfq(**overrides) -> Rfq:
    values = dict(rfq_id=RfqId(1), requester=SessionName("REQ1"), requester_account="REQ1", client_req_id="c1",
                  symbol="AAPL", side=Side.BUY, quantity=Decimal(10), limit_price=None, created_at=T0,
                  submission_deadline=T0 + timedelta(seconds=60), acceptance_deadline=T0 + timedelta(seconds=180),
                  state=RfqState.QUOTING)
    values.update(overrides)
    return Rfq(**values)


def quote(**overrides) -> Quote:
    values = dict(quote_id=QuoteId("q1-1"), rfq_id=RfqId(1), solver=SessionName("SOLVER1"),
                  solver_account="SOLVER1", solver_quote_id="s1", bid_price=Decimal("227.00"),
                  offer_price=Decimal("228.00"), bid_size=None, offer_size=None, valid_until=None,
                  received_at=T0, sequence=1)
    values.update(overrides)
    return Quote(**values)


def policy(**overrides) -> GatewayPolicy:
    parties = {name: Counterparty(SessionName(name), role, name) for name, role in (
        ("REQ1", Role.REQUESTER), ("REQ2", Role.REQUESTER), ("SOLVER1", Role.SOLVER), ("SOLVER2", Role.SOLVER))}
    values = dict(symbols=frozenset({"AAPL", "MSFT"}), counterparties=parties, submission_window_s=60.0,
                  acceptance_window_s=120.0)
    values.update(overrides)
    return GatewayPolicy(**values)


def request_quote(**overrides) -> RequestQuote:
    values = dict(requester=SessionName("REQ1"), client_req_id="c1", symbol="AAPL", side=Side.BUY,
                  quantity=Decimal(10), limit_price=None)
    values.update(overrides)
    return RequestQuote(**values)


def submit_quote(**overrides) -> SubmitQuote:
    values = dict(solver=SessionName("SOLVER1"), solver_quote_id="s1", quote_req_id="rfq-1", symbol="AAPL",
                  bid_price=Decimal("227.00"), offer_price=Decimal("228.00"), bid_size=None, offer_size=None,
                  valid_until=None)
    values.update(overrides)
    return SubmitQuote(**values)


def accept_quote(**overrides) -> AcceptQuote:
    values = dict(requester=SessionName("REQ1"), client_resp_id="a1", quote_id="q1-1",
                  response_type=ResponseType.HIT_LIFT)
    values.update(overrides)
    return AcceptQuote(**values)


def report_fill(**overrides) -> ReportExecution:
    values = dict(solver=SessionName("SOLVER1"), quote_resp_id="acc-1", exec_id="e1",
                  outcome=ExecutionOutcome.FILLED, last_price=Decimal("228.00"), last_quantity=Decimal(10), text=None)
    values.update(overrides)
    return ReportExecution(**values)
