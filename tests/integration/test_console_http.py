"""The operator console and /metrics over real HTTP, beside a running stack with real FIX sessions:
login and CSRF, an RFQ's whole life in the Prometheus metrics, the actions recorded as operator commands."""
from __future__ import annotations

import json
from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from gateway.access.models import OperatorCommandRow
from tests.integration.console_support import Browserless, start_console_stack, wait_for
from tests.integration.test_end_to_end import accept, best_quote_shown, fill, quote, report, rfq_seen_by, send_rfq
from transport.fix import tags as t

pytestmark = pytest.mark.fix


@pytest.fixture(scope="module")
def consoled(tmp_path_factory):
    stack = start_console_stack(tmp_path_factory.mktemp("console-http"))
    for comp_id in ("REQ1", "SOLVER1", "SOLVER2"):
        stack.running.connect(comp_id)
    yield stack
    stack.close()


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_metrics_scraped_over_http_follow_an_rfq_from_request_to_fill(consoled):
    running = consoled.running
    req, solver1 = running.clients["REQ1"], running.clients["SOLVER1"]
    client = Browserless(consoled.console.url)
    market = running.stack.market.nbbo("AAPL", running.clock.now())
    send_rfq(req, "metrics-1", "AAPL", "1", 10)
    quote(solver1, rfq_seen_by(solver1, "AAPL", 10), market.bid - 1, market.ask + 1)
    shown = best_quote_shown(running, req, "metrics-1", quotes_expected=1)
    resp_id = accept(req, shown)
    acceptance = solver1.wait_for(lambda m: m.msg_type == "AJ")
    fill(solver1, acceptance, Decimal(shown[t.OFFER_PX]), Decimal(10), exec_id="metrics-fill-1")
    report(req, resp_id, "F")
    running.settle()

    status, headers, body = client.request("/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    samples = _samples(body)
    assert samples[("rfq_gateway_rfqs_received_total", ())] >= 1
    assert samples[("rfq_gateway_rfqs", (("state", "Filled"),))] >= 1
    assert samples[("rfq_gateway_quotes_total", (("solver", "SOLVER1"),))] >= 1
    assert samples[("rfq_gateway_fills_total", (("solver", "SOLVER1"),))] >= 1
    assert samples[("rfq_gateway_rfq_first_quote_seconds_count", ())] >= 1
    assert samples[("rfq_gateway_rfq_filled_seconds_count", ())] >= 1
    assert samples[("rfq_gateway_ledger_commit_seconds_count", ())] > 0
    assert samples[("rfq_gateway_engine_queue_depth", ())] >= 0
    assert samples[("rfq_gateway_session_up", (("role", "requester"), ("session", "REQ1")))] == 1
    assert samples[("rfq_gateway_session_up", (("role", "requester"), ("session", "REQ2")))] == 0
    assert samples[("rfq_gateway_session_next_target_seq", (("session", "REQ1"),))] > 1
    assert "rfq_gateway_recon_breaks" in body


def test_pages_need_the_operator_login(consoled):
    client = Browserless(consoled.console.url)
    status, headers, _ = client.request("/")
    assert status == 303 and headers["location"].endswith("/login")
    assert client.request("/events")[0] == 401
    assert client.login(password="wrong") == 401
    assert client.request("/")[0] == 303
    assert client.login() == 303
    status, headers, page = client.request("/")
    assert status == 200 and headers["cache-control"] == "no-store"
    assert 'id="sessions"' in page and "SOLVER1" in page
    assert client.request("/static/console.js")[0] == 200
    assert client.request("/healthz")[0] == 200


def test_actions_need_the_csrf_token_and_are_recorded_as_operator_commands(consoled):
    client = Browserless(consoled.console.url)
    assert client.login() == 303
    assert client.request("/solvers/SOLVER2/disable", {"reason": "no token"})[0] == 403
    status, _, confirm = client.request("/solvers/SOLVER2/disable")
    assert status == 200 and "Disable solver SOLVER2?" in confirm
    csrf = confirm.split('name="csrf" value="')[1].split('"')[0]
    assert client.request("/solvers/NOPE/disable")[0] == 404
    assert client.request("/solvers/SOLVER2/disable", {"csrf": csrf, "reason": "maintenance"})[0] == 303
    engine = consoled.running.stack.engine
    wait_for(lambda: "SOLVER2" in engine.book.disabled_solvers, "the engine applying the disable")
    assert client.request("/solvers/SOLVER2/enable", {"csrf": csrf})[0] == 303
    wait_for(lambda: "SOLVER2" not in engine.book.disabled_solvers, "the engine applying the enable")
    status, _, page = client.request("/margins/confirm?market_session=regular&margin_bps=25&aggression_bps=1")
    assert status == 200 and "margin to 25 bps" in page
    assert client.request("/margins", {"csrf": csrf, "market_session": "regular", "margin_bps": "25",
                                       "aggression_bps": "1"})[0] == 303
    assert client.request("/margins", {"csrf": csrf, "market_session": "regular", "margin_bps": "NaN",
                                       "aggression_bps": "1"})[0] == 303  # refused: shown as an error
    status, _, page = client.request("/")
    assert "invalid margin" in page
    with consoled.running.stack.uow() as uow:
        rows = [(row.command, row.comp_id, row.requested_by, row.applied_at is not None, row.result or "")
                for row in uow.session.scalars(select(OperatorCommandRow).order_by(OperatorCommandRow.id))]
    assert [row[:4] for row in rows][-3:] == [
        ("disable_solver", "SOLVER2", "operator", True), ("enable_solver", "SOLVER2", "operator", True),
        ("set_broker_margin", "BROKER", "operator", True)]
    assert "margin 25 bps" in rows[-1][4]


def test_the_event_stream_sends_changed_sections(consoled):
    client = Browserless(consoled.console.url)
    assert client.login() == 303
    request = client._opener.open(client.base_url + "/events", timeout=5)
    try:
        assert request.headers["content-type"].startswith("text/event-stream")
        lines = []
        while not any(line.startswith("data: ") for line in lines):
            lines.append(request.readline().decode())
        message = json.loads(next(line for line in lines if line.startswith("data: "))[6:])
        assert {"sessions", "rfqs", "fills", "quality", "solvers"} <= set(message["sections"])
    finally:
        request.close()
