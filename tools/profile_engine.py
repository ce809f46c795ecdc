"""Profile the RFQ engine alone: no sockets, the real SQL unit of work, whole RFQ lifecycles.

    python tools/profile_engine.py [--rfqs 2000] [--batch 16] [--database-url URL] [--profile]

Builds the gateway's Stack (QuickFIX not started), marks REQ1 and two solvers logged on, then
drives batches of commands through `RfqEngine.handle_batch` as the worker would: K QuoteRequests,
two Quotes each, K acceptances, K fill reports. Prints engine RFQs/s and commands/s (and a
cProfile summary with --profile). A measurement tool: it asserts nothing.
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import tempfile
import time
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from app.settings import Settings
from app.stack import Stack
from core.clock import OffsetClock
from core.types import SessionName, Side
from gateway.domain import outbound as out
from gateway.domain.commands import (
    AcceptQuote,
    ExecutionOutcome,
    ReportExecution,
    RequestQuote,
    ResponseType,
    SubmitQuote,
)
from gateway.models import RfqRow
from runtime.logging import configure_logging

REGULAR_SESSION = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # a Friday, 10:00 New York
REQ, SOLVERS = SessionName("REQ1"), (SessionName("SOLVER1"), SessionName("SOLVER2"))


def build(database_url: str | None, data_dir: Path) -> tuple[Stack, list[out.Outbound]]:
    settings = Settings().model_copy(update={"data_dir": data_dir, "database_url": database_url})
    stack = Stack(settings, clock=OffsetClock(REGULAR_SESSION), with_broker=False)
    sent: list[out.Outbound] = []
    stack.engine._send = sent.append  # noqa: SLF001 - measuring the engine, not QuickFIX
    stack.engine.book.logged_on.update({REQ, *SOLVERS})
    return stack, sent


def run_rounds(stack: Stack, sent: list[out.Outbound], rfqs: int, batch: int, first: int = 0) -> int:
    """`rfqs` whole lifecycles, client ids c<first>..; returns the commands handled."""
    engine, commands = stack.engine, 0
    for start in range(first, first + rfqs, batch):
        ids = range(start, min(start + batch, first + rfqs))
        sent.clear()
        engine.handle_batch([RequestQuote(REQ, f"c{i}", "AAPL", Side.BUY, Decimal(1), None) for i in ids])
        forwarded = [m.quote_req_id for m in sent if isinstance(m, out.ForwardQuoteRequest) and m.to == SOLVERS[0]]
        quotes = [SubmitQuote(solver, f"{solver}-{ref}", ref, "AAPL", Decimal("200.00"), Decimal(price), None, None,
                              None) for ref in forwarded for solver, price in zip(SOLVERS, ("228.00", "228.01"))]
        sent.clear()
        engine.handle_batch(quotes)
        shown = {m.client_req_id: m.quote_id for m in sent if isinstance(m, out.PresentQuote)}
        sent.clear()
        engine.handle_batch([AcceptQuote(REQ, f"a-{req}", quote_id, ResponseType.HIT_LIFT)
                             for req, quote_id in shown.items()])
        won = [m for m in sent if isinstance(m, out.NotifyQuoteAccepted)]
        sent.clear()
        engine.handle_batch([ReportExecution(m.to, m.quote_resp_id, f"x-{m.quote_resp_id}", ExecutionOutcome.FILLED,
                                             m.price, m.quantity, None) for m in won])
        commands += len(ids) + len(quotes) + len(shown) + len(won)
    return commands


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rfqs", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--profile", action="store_true")
    arguments = parser.parse_args()
    configure_logging(json_output=True, level="INFO")  # as `serve` runs: nothing per message at info
    with tempfile.TemporaryDirectory() as folder:
        stack, sent = build(arguments.database_url, Path(folder))
        stack.fund_accounts()
        run_rounds(stack, sent, 50, arguments.batch)  # warm up
        profiler = cProfile.Profile() if arguments.profile else None
        started = time.perf_counter()
        if profiler:
            profiler.enable()
        commands = run_rounds(stack, sent, arguments.rfqs, arguments.batch)
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        with stack.uow() as uow:
            filled = uow.session.scalar(select(func.count()).select_from(RfqRow).where(RfqRow.state == "Filled"))
        print(f"engine: {arguments.rfqs} RFQs in {elapsed:.2f} s = {arguments.rfqs / elapsed:.0f} RFQs/s, "
              f"{commands / elapsed:.0f} commands/s (batch {arguments.batch}; {filled} filled in SQL)")
        if profiler:
            pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(45)


if __name__ == "__main__":
    main()
