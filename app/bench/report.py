"""The bench's figures: one row per phase, the processes' CPU and memory, the raw QuickFIX echo and
the gateway's ratio to it; printed as tables and written as JSON."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from app.bench.histogram import LatencyHistogram
from app.bench.procstat import ProcSample

PERCENTILES = (("p50", 50.0), ("p99", 99.0), ("p99.9", 99.9))
COMPLETED = ("filled", "partially_filled")


@dataclass
class PhaseFigures:
    label: str
    offered_per_s: float | None
    duration_s: float
    window_s: float
    sent: int
    completed: int  # RFQs Filled within the window (outcomes["filled"] also counts those filled in the drain)
    completed_per_s: float  # completed / duration: throughput (closed loop), goodput (open loop)
    outcomes: dict[str, int]
    refused: int
    refused_share: float
    unfinished: int
    gateway_messages: int  # lines in the gateway's QuickFIX message logs during the window (in + out)
    gateway_messages_source: str  # the gateway's QuickFIX message log; without one, the bench sessions' counts
    gateway_messages_per_s: float
    load_messages_per_s: float  # what the bench's own sessions exchanged with the gateway
    first_quote_ms: dict[str, float | None]
    filled_ms: dict[str, float | None]
    cpu_s: dict[str, float | None]  # per process, over the window
    rss_kb: dict[str, int | None]  # per process, at the end of the window
    # False: the gateway was still working off an earlier phase's backlog when this one started
    started_quiet: bool = True

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentiles(histogram: LatencyHistogram) -> dict[str, float | None]:
    return {name: histogram.percentile_ms(value) for name, value in PERCENTILES}


def phase_figures(label: str, offered: float | None, duration_s: float, window_s: float,
                  results: list[dict[str, Any]], before: dict[str, ProcSample | None],
                  after: dict[str, ProcSample | None], gateway_messages: int, load_messages: int) -> PhaseFigures:
    outcomes: Counter[str] = Counter()
    for result in results:
        outcomes.update(result["outcomes"])
    sent = sum(r["sent_rfqs"] for r in results)
    completed = sum(r["completed_in_window"] for r in results)
    refused = sum(count for outcome, count in outcomes.items() if outcome not in COMPLETED)
    first_quote = LatencyHistogram.merged(LatencyHistogram.from_json(r["first_quote"]) for r in results)
    filled = LatencyHistogram.merged(LatencyHistogram.from_json(r["filled"]) for r in results)
    cpu = {name: (after[name].cpu_s - before[name].cpu_s)  # type: ignore[union-attr]
           if before.get(name) is not None and after.get(name) is not None else None for name in after}
    rss = {name: sampled.rss_kb if sampled is not None else None for name, sampled in after.items()}
    return PhaseFigures(
        label=label, offered_per_s=offered, duration_s=duration_s, window_s=window_s, sent=sent,
        completed=completed, completed_per_s=completed / duration_s, outcomes=dict(outcomes), refused=refused,
        refused_share=refused / sent if sent else 0.0, unfinished=sum(r["unfinished"] for r in results),
        gateway_messages=gateway_messages, gateway_messages_source="gateway message log" if gateway_messages else
        "bench sessions (no gateway message log)",
        gateway_messages_per_s=(gateway_messages or load_messages) / window_s,
        load_messages_per_s=load_messages / window_s, first_quote_ms=percentiles(first_quote),
        filled_ms=percentiles(filled), cpu_s=cpu, rss_kb=rss)


def _ms(values: dict[str, float | None]) -> str:
    return " / ".join("-" if values[name] is None else f"{values[name]:.1f}" for name, _ in PERCENTILES)


def _share(cpu_s: float | None, window_s: float) -> str:
    return "-" if cpu_s is None else f"{100 * cpu_s / window_s:.0f}%"


def _phase_table(phases: list[dict[str, Any]]) -> list[str]:
    header = (f"{'phase':<20}{'offered/s':>10}{'done/s':>9}{'refused':>9}{'unfin.':>8}{'gw msg/s':>10}"
              f"  {'R->first S ms p50/p99/p99.9':<30}{'R->Filled ms p50/p99/p99.9':<30}{'gw CPU':>7}")
    lines = [header, "-" * len(header)]
    for phase in phases:
        offered = "-" if phase["offered_per_s"] is None else f"{phase['offered_per_s']:g}"
        lines.append(
            f"{phase['label']:<20}{offered:>10}{phase['completed_per_s']:>9.1f}{100 * phase['refused_share']:>8.1f}%"
            f"{phase['unfinished']:>8}{phase['gateway_messages_per_s']:>10.0f}  {_ms(phase['first_quote_ms']):<30}"
            f"{_ms(phase['filled_ms']):<30}{_share(phase['cpu_s'].get('gateway'), phase['window_s']):>7}")
    refusals = [f"{phase['label']}: {', '.join(f'{k} {v}' for k, v in sorted(phase['outcomes'].items()) if k not in COMPLETED)}"
                for phase in phases if phase["refused"]]
    if refusals:
        lines.append("not completed, by answer: " + "; ".join(refusals))
    busy = [phase["label"] for phase in phases if not phase.get("started_quiet", True)]
    if busy:
        lines.append(f"started while the gateway was still busy with the previous phase's backlog: {', '.join(busy)}")
    return lines


def _process_table(results: dict[str, Any]) -> list[str]:
    first = results["phases"][0] if results["phases"] else None
    busy_label = f"CPU % ({first['label'] if first else '-'})"
    header = f"{'process':<16}{'pid':>8}{'CPU s':>9}{busy_label:>24}{'own CPU s':>11}{'peak RSS MB':>13}"
    lines = [header, "-" * len(header)]
    for row in results["processes"]:
        cpu = "-" if row["cpu_s"] is None else f"{row['cpu_s']:.1f}"
        busy = _share(first["cpu_s"].get(row["process"]), first["window_s"]) if first else "-"
        own = (row.get("self_reported") or {}).get("cpu_s")
        own_text = "-" if own is None else f"{own:.1f}"
        rss = "-" if row["peak_rss_kb"] is None else f"{row['peak_rss_kb'] / 1024:.1f}"
        lines.append(f"{row['process']:<16}{row['pid']:>8}{cpu:>9}{busy:>24}{own_text:>11}{rss:>13}")
    lines.append("(CPU s and peak RSS from /proc over the whole run; own CPU s: what each load process measured "
                 "of itself; CPU % is of one core)")
    return lines


def _echo_lines(results: dict[str, Any]) -> list[str]:
    echo = results.get("echo")
    if not echo:
        return []
    per_s = echo_messages_per_s(echo)
    rtt = percentiles(LatencyHistogram.from_json(echo["rtt"]))
    lines = [f"raw QuickFIX echo (two processes, OrderStatusRequest H, K={echo['in_flight']} in flight, "
             f"{echo['store']} store): {echo['round_trips'] / echo['window_s']:.0f} round trips/s = {per_s:.0f} "
             f"messages/s; RTT ms p50/p99/p99.9 {_ms(rtt)}"]
    closed = results["phases"][0] if results["phases"] else None
    if closed and per_s:
        lines.append(f"gateway / echo: {closed['gateway_messages_per_s']:.0f} / {per_s:.0f} messages/s = "
                     f"{echo_ratio(results):.2f} ({closed['label']})")
    return lines


def echo_messages_per_s(echo: dict[str, Any]) -> float:
    return (echo["messages_sent"] + echo["messages_received"]) / echo["window_s"]


def echo_ratio(results: dict[str, Any]) -> float | None:
    """The gateway's messages/s in the first (saturation) phase over the raw echo's."""
    echo, phases = results.get("echo"), results["phases"]
    if not echo or not phases or not echo_messages_per_s(echo):
        return None
    return float(phases[0]["gateway_messages_per_s"]) / echo_messages_per_s(echo)


def _memory_lines(results: dict[str, Any]) -> list[str]:
    memory = results.get("memory") or {}
    if "gateway_rss_kb_at_100pct" not in memory:
        return []
    at_10 = memory.get("gateway_rss_kb_at_10pct")
    text = "-" if at_10 is None else f"{at_10 / 1024:.1f} MB"
    return [f"gateway RSS over {memory['rfqs']} RFQs: {text} at 10%, "
            f"{memory['gateway_rss_kb_at_100pct'] / 1024:.1f} MB at 100%"]


def _count_mode(options: dict[str, Any]) -> str:
    return f" (closed loop: {options['rfqs']} RFQs)" if options.get("rfqs") else ""


def render(results: dict[str, Any]) -> str:
    options = results["options"]
    title = (f"RFQ gateway benchmark: {options['requesters']} requesters, {options['solvers']} solvers"
             f"{' + broker connector' if options['with_broker'] else ''}, K={options['in_flight']} in flight, "
             f"{options['duration_s']:g} s per phase{_count_mode(options)}, {results['database']}")
    lines = ["", title, ""] + _phase_table(results["phases"]) + [""] + _process_table(results)
    lines += [""] + _echo_lines(results) + _memory_lines(results)
    return "\n".join(lines) + "\n"


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
