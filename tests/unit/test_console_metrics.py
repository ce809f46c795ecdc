"""GatewayMetrics as an engine commit observer, the console's live feed, login sessions and margin parsing."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from core.types import QuoteId, RfqId, SessionName, Side
from gateway.domain.book import Changeset, FillRecord
from gateway.domain.events import SessionLoggedOn, SessionLoggedOut
from gateway.domain.quotes import Quote, QuoteStatus
from gateway.domain.rfq import Rfq, RfqState
from ops.console.actions import ActionError, OperatorActions
from ops.console.auth import OperatorLogin, SessionStore, csrf_ok
from ops.console.feed import LiveFeed
from ops.metrics import GatewayMetrics
from ops.sessions_view import read_seqnums

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def _rfq(rfq_id: int, state: RfqState = RfqState.QUOTING, at: datetime = T0) -> Rfq:
    return Rfq(RfqId(rfq_id), SessionName("REQ1"), "REQ1", f"c{rfq_id}", "AAPL", Side.BUY, Decimal(10), None,
               created_at=T0, submission_deadline=T0 + timedelta(seconds=60),
               acceptance_deadline=T0 + timedelta(seconds=180), state=state, updated_at=at)


def _quote(rfq_id: int, sequence: int, solver: str, received: datetime) -> Quote:
    return Quote(QuoteId(f"q{rfq_id}-{sequence}"), RfqId(rfq_id), SessionName(solver), solver, f"s{sequence}",
                 Decimal("99"), Decimal("101"), None, None, None, received, sequence)


def _values(metrics: GatewayMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = metrics.exposition().decode()
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_an_rfq_is_counted_by_state_with_its_latencies_quotes_and_fill() -> None:
    metrics = GatewayMetrics()
    metrics.observe(Changeset(rfqs=[_rfq(1)]))
    quote = _quote(1, 1, "SOLVER1", T0 + timedelta(milliseconds=40))
    metrics.observe(Changeset(quotes=[quote]))
    metrics.observe(Changeset(quotes=[quote.with_status(QuoteStatus.ACCEPTED)],
                              rfqs=[_rfq(1, RfqState.ACCEPTED_BINDING)]))
    fill = FillRecord(RfqId(1), quote.quote_id, "e1", Decimal("101"), Decimal(10), T0 + timedelta(seconds=2))
    metrics.observe(Changeset(rfqs=[_rfq(1, RfqState.FILLED, T0 + timedelta(seconds=2))], fills=[fill]))
    values = _values(metrics)
    assert values[("rfq_gateway_rfqs_received_total", ())] == 1
    assert values[("rfq_gateway_rfqs", (("state", "Filled"),))] == 1
    assert values[("rfq_gateway_rfqs", (("state", "Quoting"),))] == 0
    assert values[("rfq_gateway_rfqs", (("state", "AcceptedBinding"),))] == 0
    assert values[("rfq_gateway_quotes_total", (("solver", "SOLVER1"),))] == 1  # a status change is no new quote
    assert values[("rfq_gateway_fills_total", (("solver", "SOLVER1"),))] == 1
    assert values[("rfq_gateway_rfq_first_quote_seconds_count", ())] == 1
    assert values[("rfq_gateway_rfq_first_quote_seconds_bucket", (("le", "0.05"),))] == 1
    assert values[("rfq_gateway_rfq_first_quote_seconds_bucket", (("le", "0.025"),))] == 0
    assert values[("rfq_gateway_rfq_filled_seconds_sum", ())] == 2.0


def test_an_ended_rfqs_quotes_are_forgotten_and_its_fill_still_labelled() -> None:
    """Memory stays flat: the quote -> solver map holds open RFQs' quotes only (it held the last
    100,000 quotes: the gateway's RSS grew by about 0.2 MB per 1,000 RFQs until it was full)."""
    metrics = GatewayMetrics()
    for rfq_id in range(1, 1001):
        metrics.observe(Changeset(rfqs=[_rfq(rfq_id)]))
        quotes = [_quote(rfq_id, 1, "SOLVER1", T0), _quote(rfq_id, 2, "SOLVER2", T0)]
        metrics.observe(Changeset(quotes=quotes))
        fill = FillRecord(RfqId(rfq_id), quotes[1].quote_id, f"e{rfq_id}", Decimal("101"), Decimal(10), T0)
        metrics.observe(Changeset(rfqs=[_rfq(rfq_id, RfqState.FILLED, T0 + timedelta(seconds=1))], fills=[fill]))
    assert metrics.quotes_remembered == 0
    metrics.observe(Changeset(rfqs=[_rfq(2000)]))
    metrics.observe(Changeset(quotes=[_quote(2000, 1, "SOLVER1", T0)]))
    assert metrics.quotes_remembered == 1  # an open RFQ's quote is kept
    assert _values(metrics)[("rfq_gateway_fills_total", (("solver", "SOLVER2"),))] == 1000


def test_open_rfqs_are_seeded_and_sessions_follow_logon_events() -> None:
    metrics = GatewayMetrics()
    metrics.seed([(_rfq(7), False), (_rfq(8, RfqState.ACCEPTED_BINDING), True)])
    metrics.observe(Changeset(rfqs=[_rfq(7, RfqState.EXPIRED)], events=[
        SessionLoggedOn(rfq_id=None, occurred_at=T0, session="SOLVER1"),
        SessionLoggedOut(rfq_id=None, occurred_at=T0, session="SOLVER2")]))
    values = _values(metrics)
    assert values[("rfq_gateway_rfqs", (("state", "Quoting"),))] == 0
    assert values[("rfq_gateway_rfqs_received_total", ())] == 0  # received before this process started
    assert values[("rfq_gateway_rfqs", (("state", "Expired"),))] == 1
    assert values[("rfq_gateway_rfqs", (("state", "AcceptedBinding"),))] == 1
    assert values[("rfq_gateway_session_logged_on_events", (("session", "SOLVER1"),))] == 1
    assert values[("rfq_gateway_session_logged_on_events", (("session", "SOLVER2"),))] == 0


def test_an_rfq_ended_before_the_process_saw_it_is_not_counted() -> None:
    metrics = GatewayMetrics()
    metrics.observe(Changeset(rfqs=[replace(_rfq(3), state=RfqState.EXPIRED)]))
    assert _values(metrics)[("rfq_gateway_rfqs_received_total", ())] == 0


def test_queue_depth_is_read_when_scraped() -> None:
    metrics = GatewayMetrics()
    depth = [3]
    metrics.watch(queue_depth=lambda: depth[0])
    assert _values(metrics)[("rfq_gateway_engine_queue_depth", ())] == 3
    depth[0] = 0
    assert _values(metrics)[("rfq_gateway_engine_queue_depth", ())] == 0


def test_the_live_feed_moves_only_on_changes() -> None:
    feed = LiveFeed()
    feed.observe(Changeset())
    assert feed.version == 0
    feed.observe(Changeset(rfqs=[_rfq(1)]))
    assert feed.version == 1 and feed.recent[-1].text == "RFQ 1 Quoting"


def test_login_is_checked_and_sessions_carry_a_csrf_token() -> None:
    store = SessionStore(OperatorLogin("operator", "secret"))
    assert not store.check("operator", "wrong") and not store.check("admin", "secret")
    assert store.check("operator", "secret")
    token = store.open("operator")
    session = store.get(token)
    assert session is not None and session.operator == "operator"
    assert csrf_ok(session, session.csrf) and not csrf_ok(session, "forged")
    store.close(token)
    assert store.get(token) is None and store.get(None) is None
    assert not SessionStore(OperatorLogin("operator", "")).check("operator", "")


@pytest.mark.parametrize("margin, aggression", [("abc", "0"), ("NaN", "0"), ("Infinity", "0"), ("-1", "0"),
                                                ("1001", "0"), ("5", "x"), ("1" * 40, "0")])
def test_bad_margins_are_refused(margin: str, aggression: str) -> None:
    with pytest.raises(ActionError):
        OperatorActions.parse_margin("regular", margin, aggression)


def test_margins_parse_to_decimals() -> None:
    session, parameters = OperatorActions.parse_margin("regular", "25.5", "")
    assert (session, parameters.margin_bps, parameters.aggression_bps) == ("regular", Decimal("25.5"), Decimal(0))
    with pytest.raises(ActionError):
        OperatorActions.parse_margin("lunch", "1", "0")


def test_quickfix_seqnums_files_are_read(tmp_path) -> None:
    path = tmp_path / "FIX.4.4-RFQGW-REQ1.seqnums"
    path.write_text("0000000012 : 0000000034")
    assert read_seqnums(path) == (12, 34)
    assert read_seqnums(tmp_path / "missing") == (None, None)
    path.write_text("garbage")
    assert read_seqnums(path) == (None, None)
