"""Issue 3 protocol rules on the engine, without sockets: execution modes, quote
cancel/replace/validity, requester cancel, cancel on disconnect, operator disable,
tick and buying-power checks, order entry, per-symbol windows and gates."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import timedelta
from decimal import Decimal

import pytest

from core.clock import FakeClock
from core.refusal import RejectReason
from core.types import SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.commands import ApplyOperatorCommand, CancelQuote, CancelRfq, QueryOrder, SessionStatusChanged
from gateway.domain.policy import InstrumentTerms
from gateway.domain.rfq import ExecutionMode, RfqOrigin, RfqState
from gateway.handlers.lifecycle import apply_operator_command
from tests import stubs
from tests.unit.test_engine import Harness

D = Decimal


@pytest.fixture
def harness(sessions):
    return Harness(sessions, FakeClock(stubs.T0))


def with_policy(harness, **changes):
    harness.engine.policy = replace(harness.engine.policy, **changes)


def order(**overrides):
    values = dict(client_req_id="ord-1", limit_price=D("228.00"), mode=ExecutionMode.IMMEDIATE,
                  origin=RfqOrigin.ORDER)
    values.update(overrides)
    return stubs.request_quote(**values)


def test_immediate_mode_accepts_the_first_quote_within_the_limit(harness):
    harness.engine.handle(stubs.request_quote(mode=ExecutionMode.IMMEDIATE, limit_price=D("228.00")))
    harness.engine.handle(stubs.submit_quote(solver="SOLVER2", solver_quote_id="s2", offer_price=D("228.01")))
    assert harness.engine.book.rfq(1).state is RfqState.QUOTING  # outside the limit: stays live
    harness.engine.handle(stubs.submit_quote(solver="SOLVER1", solver_quote_id="s1", offer_price=D("227.99")))
    assert harness.engine.book.rfq(1).state is RfqState.ACCEPTED_BINDING
    [won] = harness.take(out.NotifyQuoteAccepted)
    assert (won.to, won.price) == ("SOLVER1", D("227.99"))
    [new] = harness.take(out.RequesterReport, to="REQ1")
    assert (new.kind, new.cl_ord_id) == (out.ReportKind.NEW, "c1")
    assert harness.take(out.PresentQuote) == []  # Immediate requesters are not shown quotes
    assert harness.balance("REQ1", "USDC").locked == D("2279.90")


def test_immediate_mode_needs_a_limit_and_ends_with_the_submission_window(harness):
    harness.engine.handle(stubs.request_quote(mode=ExecutionMode.IMMEDIATE, limit_price=None))
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.reason is RejectReason.INVALID_PRICE and "limit" in reject.text
    harness.engine.handle(stubs.request_quote(client_req_id="c2", mode=ExecutionMode.IMMEDIATE,
                                              limit_price=D("200")))
    harness.clock.advance(60)
    harness.engine.tick()
    assert harness.engine.book.rfq(1).state is RfqState.EXPIRED


def test_quote_cancel_withdraws_and_the_requester_sees_the_next_best_or_nothing(harness):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.submit_quote(solver="SOLVER1", solver_quote_id="s1", offer_price=D("228.00")))
    harness.engine.handle(stubs.submit_quote(solver="SOLVER2", solver_quote_id="s2", offer_price=D("227.50")))
    harness.take(out.PresentQuote)
    harness.engine.handle(CancelQuote(SessionName("SOLVER2"), "rfq-1", "s2"))
    [shown] = harness.take(out.PresentQuote)
    assert shown.price == D("228.00")
    assert [a.status for a in harness.take(out.QuoteStatusReport, to="SOLVER2")][-1] is out.QuoteAck.CANCELED
    harness.engine.handle(CancelQuote(SessionName("SOLVER1"), "rfq-1", None))
    [gone] = [m for m in harness.take(out.QuoteStatusReport, to="REQ1")]
    assert gone.status is out.QuoteAck.REMOVED and gone.quote_id == "q1-1"
    harness.engine.handle(CancelQuote(SessionName("SOLVER1"), "rfq-1", "s1"))
    [missing] = harness.take(out.QuoteStatusReport, to="SOLVER1")[-1:]
    assert missing.status is out.QuoteAck.NOT_FOUND


def test_a_newer_quote_replaces_the_solvers_previous_one(harness):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.submit_quote(solver_quote_id="s1", offer_price=D("227.00")))
    harness.engine.handle(stubs.submit_quote(solver_quote_id="s1b", offer_price=D("228.00")))
    live = [q for q in harness.engine.book.quotes(1) if q.status.value == "live"]
    assert [q.solver_quote_id for q in live] == ["s1b"]
    assert [m.price for m in harness.take(out.PresentQuote)] == [D("227.00"), D("228.00")]


def test_a_shown_quote_past_its_valid_until_time_is_replaced(harness):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.submit_quote(solver="SOLVER1", solver_quote_id="s1", offer_price=D("227.00"),
                                             valid_until=stubs.T0 + timedelta(seconds=10)))
    harness.engine.handle(stubs.submit_quote(solver="SOLVER2", solver_quote_id="s2", offer_price=D("228.00")))
    harness.take(out.PresentQuote)
    harness.clock.advance(10)
    harness.engine.tick()
    [shown] = harness.take(out.PresentQuote)
    assert (shown.price, shown.quote_id) == (D("228.00"), "q1-2")


def test_requester_cancels_its_rfq_before_acceptance_but_not_after(harness):
    harness.quoted_rfq()
    harness.engine.handle(CancelRfq(SessionName("REQ1"), "c1", "c1"))
    assert harness.engine.book.rfq(1).state is RfqState.CANCELED
    acks = harness.take(out.QuoteStatusReport)
    assert {(a.to, a.status) for a in acks} >= {("REQ1", out.QuoteAck.RFQ_CANCELED), ("SOLVER1", out.QuoteAck.REMOVED)}
    harness.engine.handle(stubs.request_quote(client_req_id="c2"))
    harness.engine.handle(stubs.submit_quote(quote_req_id="rfq-2"))
    harness.engine.handle(stubs.accept_quote(quote_id="q2-2"))
    harness.engine.handle(CancelRfq(SessionName("REQ1"), "c2", "c2"))
    [reject] = harness.take(out.BusinessReject)
    assert reject.reason is RejectReason.TOO_LATE and reject.ref_msg_type == "Z"


def test_cancel_on_disconnect_pulls_the_solvers_quotes(harness):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.submit_quote(solver="SOLVER1", solver_quote_id="s1", offer_price=D("227.00")))
    harness.engine.handle(stubs.submit_quote(solver="SOLVER2", solver_quote_id="s2", offer_price=D("228.00")))
    harness.take(out.PresentQuote)
    harness.engine.handle(SessionStatusChanged(SessionName("SOLVER1"), logged_on=False))
    assert {q.solver_quote_id: q.status.value for q in harness.engine.book.quotes(1)} == {
        "s1": "withdrawn", "s2": "live"}
    [shown] = harness.take(out.PresentQuote)
    assert shown.price == D("228.00")


def test_operator_disable_pulls_quotes_and_keeps_the_solver_out(harness):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.submit_quote(solver="SOLVER1", solver_quote_id="s1"))
    changes, result = apply_operator_command(ApplyOperatorCommand(1, "disable_solver", SessionName("SOLVER1")),
                                             harness.engine.policy, harness.engine.book, harness.clock.now())
    assert "1 live quote(s) pulled" in result and changes.quotes[0].status.value == "withdrawn"
    harness.engine.book.apply(changes)
    harness.take(out.ForwardQuoteRequest)
    harness.engine.handle(stubs.request_quote(client_req_id="c2"))
    assert [m.to for m in harness.take(out.ForwardQuoteRequest)] == ["SOLVER2"]
    harness.engine.handle(stubs.submit_quote(solver="SOLVER1", quote_req_id="rfq-2", solver_quote_id="s9"))
    [refused] = [a for a in harness.take(out.QuoteStatusReport, to="SOLVER1") if a.quote_id == "s9"]
    assert refused.status is out.QuoteAck.REJECTED and "disabled" in refused.text


@pytest.mark.parametrize(("quote", "text"), [
    (dict(offer_price=D("228.005")), "off the 0.01 tick"),
    (dict(offer_price=None, bid_price=D("227")), "needs an offer"),
    (dict(offer_price=D("0")), "must be positive"),
    (dict(offer_size=D(9)), "below RFQ quantity"),
])
def test_quotes_breaking_the_rules_are_rejected_with_text(harness, quote, text):
    harness.engine.handle(stubs.request_quote())
    harness.engine.handle(stubs.submit_quote(**quote))
    [ack] = harness.take(out.QuoteStatusReport)
    assert ack.status is out.QuoteAck.REJECTED and text in ack.text


def test_buying_power_is_checked_before_any_solver_hears_of_the_rfq(harness):
    harness.engine.handle(stubs.request_quote(quantity=D(1000), limit_price=D("228.00")))  # 228,000 > 100,000
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.reason is RejectReason.INSUFFICIENT_FUNDS and "worst case 228000.00" in reject.text
    assert harness.take(out.ForwardQuoteRequest) == []
    harness.engine.handle(stubs.request_quote(client_req_id="c2", side=Side.SELL, quantity=D(51)))
    [reject] = harness.take(out.RejectQuoteRequest)
    assert "insufficient AAPL" in reject.text
    with_policy(harness, reference_ask=lambda symbol: D("2000"))  # no limit: reference x 1.05 x 50 > 100,000
    harness.engine.handle(stubs.request_quote(client_req_id="c3", quantity=D(50)))
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.reason is RejectReason.INSUFFICIENT_FUNDS


@dataclass(frozen=True)
class Refused:
    reason: RejectReason
    text: str


class ClosedMarket:
    def check(self, symbol, quantity, at):
        return Refused(RejectReason.EXCHANGE_CLOSED, f"{symbol}: market closed")


class DenyAll:
    def authorize(self, account, symbol):
        return Refused(RejectReason.NOT_AUTHORIZED, f"{account}: stocks not enabled")


@pytest.mark.parametrize(("gates", "reason"), [(dict(trading=ClosedMarket()), RejectReason.EXCHANGE_CLOSED),
                                                (dict(compliance=DenyAll()), RejectReason.NOT_AUTHORIZED)])
def test_trading_and_compliance_gates_refuse_before_fan_out(harness, gates, reason):
    with_policy(harness, **gates)
    harness.engine.handle(stubs.request_quote())
    [reject] = harness.take(out.RejectQuoteRequest)
    assert reject.reason is reason
    assert harness.take(out.ForwardQuoteRequest) == []


def test_per_symbol_windows(harness):
    with_policy(harness, instruments={"AAPL": InstrumentTerms(submission_window_s=10, acceptance_window_s=20)})
    harness.engine.handle(stubs.request_quote())
    rfq = harness.engine.book.rfq(1)
    assert rfq.submission_deadline - rfq.created_at == timedelta(seconds=10)
    assert rfq.acceptance_deadline - rfq.created_at == timedelta(seconds=30)


def test_an_order_runs_immediate_and_reports_new_then_fill(harness):
    harness.engine.handle(order())
    [new] = harness.take(out.RequesterReport, to="REQ1")
    assert (new.kind, new.cl_ord_id, new.order_id) == (out.ReportKind.NEW, "ord-1", "rfq-1")
    harness.engine.handle(stubs.submit_quote(offer_price=D("227.95")))
    assert harness.take(out.RequesterReport, to="REQ1") == []  # no second New on acceptance
    harness.engine.handle(stubs.report_fill(last_price=D("227.95")))
    [fill] = harness.take(out.RequesterReport, to="REQ1")
    assert (fill.kind, fill.cl_ord_id, fill.cum_quantity) == (out.ReportKind.FILL, "ord-1", D(10))


def test_an_order_no_quote_met_expires_with_an_execution_report(harness):
    harness.engine.handle(order())
    harness.engine.handle(stubs.submit_quote(offer_price=D("228.50")))  # above the limit
    harness.clock.advance(60)
    harness.engine.tick()
    reports = harness.take(out.RequesterReport, to="REQ1")
    assert [r.kind for r in reports] == [out.ReportKind.NEW, out.ReportKind.EXPIRED]
    assert "within limit 228.00" in reports[-1].text


def test_order_cancel_status_and_duplicate(harness):
    harness.engine.handle(order())
    harness.engine.handle(order())  # the same ClOrdID again
    reports = harness.take(out.RequesterReport, to="REQ1")
    assert reports[-1].kind is out.ReportKind.REJECTED and reports[-1].reject_reason is RejectReason.DUPLICATE_ID
    harness.engine.handle(QueryOrder(SessionName("REQ1"), "ord-1", "AAPL", Side.BUY))
    [status] = harness.take(out.RequesterReport, to="REQ1")
    assert (status.kind, status.status) == (out.ReportKind.STATUS, "Quoting")
    harness.engine.handle(CancelRfq(SessionName("REQ1"), "ord-1", "cxl-1", order_cancel=True))
    [canceled] = harness.take(out.RequesterReport, to="REQ1")
    assert (canceled.kind, canceled.cl_ord_id, canceled.orig_cl_ord_id) == (out.ReportKind.CANCELED, "cxl-1", "ord-1")
    harness.engine.handle(CancelRfq(SessionName("REQ1"), "ord-1", "cxl-2", order_cancel=True))
    [too_late] = harness.take(out.OrderCancelReject)
    assert too_late.too_late and too_late.status == "Canceled"
    harness.engine.handle(QueryOrder(SessionName("REQ1"), "nope", "AAPL", Side.BUY))
    [unknown] = harness.take(out.RequesterReport, to="REQ1")
    assert unknown.text == "unknown order"


def test_an_accepted_rfq_without_an_execution_report_times_out_and_releases_the_holds(harness):
    harness.quoted_rfq()
    harness.engine.handle(stubs.accept_quote())
    assert harness.balance("REQ1", "USDC").locked == D("2280.00")
    harness.clock.advance(299)
    harness.engine.tick()
    assert harness.engine.book.rfq(1).state is RfqState.ACCEPTED_BINDING
    harness.clock.advance(1)
    harness.engine.tick()
    assert harness.engine.book.rfq(1).state is RfqState.REJECTED
    rejected = harness.take(out.RequesterReport, to="REQ1")[-1]
    assert rejected.kind is out.ReportKind.REJECTED and "within 300 s" in rejected.text
    assert [s.status for s in harness.take(out.QuoteStatusReport, to="SOLVER1")][-1] is out.QuoteAck.EXPIRED
    assert harness.balance("REQ1", "USDC") == type(harness.balance("REQ1", "USDC"))(D("100000.00"), D(0))
    harness.engine.handle(stubs.report_fill())  # too late: the solver learns its trade did not settle
    [late] = harness.take(out.ExecutionAck)
    assert late.status is out.ExecutionAckStatus.REFUSED and "Rejected" in late.text
    assert harness.invariants() == []
