"""The `bench` subcommand's arguments (README "Benchmark")."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from app.bench.processes import BenchError
from app.bench.runner import BenchOptions, run_bench


def _rates(text: str) -> list[float]:
    try:
        return [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--rates wants RFQs/s separated by commas, e.g. 50,100,200; got {text!r}") from None


def add_bench_parser(commands) -> None:
    bench = commands.add_parser(
        "bench", help="benchmark the gateway: closed-loop saturation, open-loop rates and a raw QuickFIX echo, "
                      "with load from separate QuickFIX processes")
    bench.add_argument("--requesters", type=int, default=2, metavar="N", help="requester sessions, one process each")
    bench.add_argument("--solvers", type=int, default=2, metavar="M", help="solver sessions, one process each")
    bench.add_argument("--in-flight", type=int, default=8, metavar="K",
                       help="RFQs each requester keeps open in the closed loop (and echo messages in flight)")
    bench.add_argument("--duration-s", type=float, default=10.0, metavar="S", help="length of each phase")
    bench.add_argument("--rates", type=_rates, default=[50.0, 100.0, 200.0], metavar="R1,R2,...",
                       help="open-loop phases: total RFQs/s over all requesters ('' for none)")
    bench.add_argument("--rfqs", type=int, default=None, metavar="N",
                       help="count mode: N RFQs closed loop instead of --duration-s; prints the gateway's RSS at "
                            "10%% and at 100%% of the run")
    bench.add_argument("--database-url", default=None, metavar="URL",
                       help="a PostgreSQL server URL: the bench creates a scratch database bench_<id> there and "
                            "drops it at the end (default: a fresh SQLite file)")
    bench.add_argument("--with-broker", action="store_true",
                       help="also run the broker connector (it quotes every RFQ and executes at the venue)")
    bench.add_argument("--accept-after-ms", type=float, default=0.0, metavar="MS",
                       help="requesters accept the best quote shown this long after the first one (default 0: "
                            "the first quote shown, the best at that moment)")
    bench.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the results as JSON")
    bench.add_argument("--warmup-s", type=float, default=2.0, metavar="S", help="closed-loop warm-up, not reported")
    bench.add_argument("--drain-s", type=float, default=10.0, metavar="S",
                       help="after each phase, how long open RFQs may take to end before they count as unfinished")
    bench.add_argument("--no-echo", action="store_true", help="skip the raw QuickFIX echo")
    bench.add_argument("--keep-data", action="store_true", help="keep the run's data directory (logs, FIX logs)")


def run_bench_command(arguments: argparse.Namespace) -> int:
    options = BenchOptions(requesters=arguments.requesters, solvers=arguments.solvers, in_flight=arguments.in_flight,
                           duration_s=arguments.duration_s, rates=arguments.rates, database_url=arguments.database_url,
                           with_broker=arguments.with_broker, json_path=arguments.json, rfqs=arguments.rfqs,
                           warmup_s=arguments.warmup_s, drain_s=arguments.drain_s, echo=not arguments.no_echo,
                           keep_data=arguments.keep_data, accept_after_ms=arguments.accept_after_ms)
    try:
        return run_bench(options, sys.stdout)
    except (BenchError, ValueError) as error:
        print(f"rfq-gateway bench: {error}", file=sys.stderr)
        return 1
