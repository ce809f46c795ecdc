"""The bench's figures from the load processes' reports: merged latencies, refusals, rates, and the
printed table (what the smoke test cannot pin down without a speed)."""
from __future__ import annotations

import json

import pytest

from app.bench.histogram import LatencyHistogram
from app.bench.procstat import ProcSample
from app.bench.report import echo_ratio, phase_figures, render, write_json


def _requester_result(fills_ms: list[int], outcomes: dict[str, int]) -> dict:
    histogram = LatencyHistogram()
    for value in fills_ms:
        histogram.record_ns(value * 1_000_000)
    return {"sent_rfqs": sum(outcomes.values()) + 1, "outcomes": outcomes, "unfinished": 1,
            "completed_in_window": len(fills_ms), "window_s": 10.0, "first_quote": histogram.to_json(),
            "filled": histogram.to_json(), "messages_sent": 100, "messages_received": 200, "cpu_s": 1.0}


def test_a_phase_merges_requesters_and_counts_refusals():
    results = [_requester_result([10, 20, 30], {"filled": 3}),
               _requester_result([40], {"filled": 1, "throttled": 4, "accept_refused": 1})]
    before = {"gateway": ProcSample(1.0, 1000, 1000), "BREQ1": ProcSample(0.5, 10, 10)}
    after = {"gateway": ProcSample(6.0, 2048, 4096), "BREQ1": None}
    phase = phase_figures("open 100/s", 100.0, 10.0, 10.0, results, before, after, 3000, 600)
    assert (phase.sent, phase.completed, phase.completed_per_s) == (11, 4, 0.4)
    assert phase.refused == 5 and phase.refused_share == 5 / 11 and phase.unfinished == 2
    assert phase.gateway_messages_per_s == 300.0 and phase.gateway_messages_source == "gateway message log"
    assert phase.filled_ms["p50"] == pytest.approx(20.0, rel=0.01)
    assert phase.filled_ms["p99.9"] == pytest.approx(40.0, rel=0.01)
    assert phase.cpu_s == {"gateway": 5.0, "BREQ1": None} and phase.rss_kb["gateway"] == 2048


def test_without_a_gateway_message_log_the_sessions_counts_stand_in():
    phase = phase_figures("closed K=8", None, 10.0, 10.0, [_requester_result([5], {"filled": 1})], {}, {}, 0, 600)
    assert phase.gateway_messages_per_s == 60.0 and "no gateway message log" in phase.gateway_messages_source


def test_the_table_shows_every_figure_and_the_ratio_to_the_echo(tmp_path):
    phase = phase_figures("closed K=8", None, 10.0, 10.0, [_requester_result([5, 7], {"filled": 2, "refused": 1})],
                          {"gateway": ProcSample(0.0, 1, 1)}, {"gateway": ProcSample(5.0, 1, 2048)}, 1000, 0)
    results = {"options": {"requesters": 1, "solvers": 2, "with_broker": False, "in_flight": 8, "duration_s": 10.0,
                           "rfqs": None},
               "database": "SQLite", "phases": [phase.to_json()], "memory": {},
               "echo": {"messages_sent": 5000, "messages_received": 5000, "window_s": 10.0, "round_trips": 5000,
                        "rtt": {}, "in_flight": 8, "store": "file"},
               "processes": [{"process": "gateway", "pid": 7, "cpu_s": 5.0, "peak_rss_kb": 2048, "self_reported": None}]}
    assert echo_ratio(results) == 0.1
    text = render(results)
    for expected in ("closed K=8", "0.2", "25.0%", "100", "50%", "gateway / echo: 100 / 1000 messages/s = 0.10",
                     "refused 1", "2.0"):
        assert expected in text, expected
    write_json(tmp_path / "bench.json", results)
    assert json.loads((tmp_path / "bench.json").read_text())["phases"][0]["completed"] == 2
