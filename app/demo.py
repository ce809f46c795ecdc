"""`rfq-gateway demo`: the whole stack plus scripted clients, a handful of RFQs,
then a table of each RFQ's lifecycle and the final balances."""
from __future__ import annotations

import argparse
import shutil
import socket
import time
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import or_, select

from app.console import ConsoleNotConfigured, Monitoring, attach_monitoring, start_stack_console
from app.demo_clients import ScriptedRequester, ScriptedSolver
from app.demo_margin import margin_scenario
from app.processes import wait_for_stop
from app.settings import Settings
from app.stack import Stack
from core.clock import Clock, OffsetClock, SystemClock
from gateway.domain.outbound import CopiedParty
from gateway.domain.policy import Role
from gateway.fix.drop_copy_codec import COPY_MSG_INDICATOR, PARTY_ROLE, PARTY_ROLES
from gateway.models import QuoteRow, RfqRow
from ledger.models import OutboxRow
from ledger.uow import SqlUnitOfWork
from marketcal.holidays import exchange_holidays
from marketcal.sessions import EXCHANGE_TZ, MarketSession, TradingCalendar
from ops.console.server import ConsoleServer
from ops.recon_cli import run_reconcile, run_report
from runtime.ports import free_port
from transport.fix import tags as t
from transport.fix.client import FixClient, Received
from transport.fix.dictionary import DATA_DICTIONARY

DROP_COPY_QUIET_S = 0.5
DEMO_SUBMISSION_WINDOW_S = 3.0  # short windows so the expiry scenario takes seconds, not minutes
DEMO_ACCEPTANCE_WINDOW_S = 3.0
QUOTE_COLLECTION_S = 1.0
MAX_SEARCH_STEPS = 2 * 24 * 21  # half-hour steps over three weeks


def port_or_free(port: int) -> int:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return port
        except OSError:
            return free_port()


def demo_settings(base: Settings) -> Settings:
    data_dir = base.resolved_data_dir() / "demo"
    shutil.rmtree(data_dir, ignore_errors=True)  # every demo starts from an empty ledger
    gateway = base.gateway.model_copy(update={
        "port": port_or_free(base.gateway.port), "submission_window_s": DEMO_SUBMISSION_WINDOW_S,
        "acceptance_window_s": DEMO_ACCEPTANCE_WINDOW_S})
    # A still market (no random walk) keeps the demo's outcomes the same on every run.
    venue = base.venue.model_copy(update={"port": port_or_free(base.venue.port), "tick_interval_s": 0.0})
    # Short order timers: the resting remainder of the partial fill is cancelled after 3 s, not 30 s.
    broker = base.broker.model_copy(update={"order_timeout_s": 3.0, "order_poll_interval_s": 1.0,
                                            "withdraw_delay_s": 0.5})
    console = base.console.model_copy(update={"port": port_or_free(base.console.port)})
    return base.model_copy(update={"data_dir": data_dir, "gateway": gateway, "venue": venue, "broker": broker,
                                   "console": console, "database_url": base.database_url})


def connect(stack: Stack, comp_id: str) -> FixClient:
    gateway = stack.settings.gateway
    return FixClient(comp_id, gateway.comp_id, gateway.host, gateway.port, stack.data_dir, DATA_DICTIONARY,
                     credentials=stack.credentials_of(comp_id)).start()


def run_scenarios(requester: ScriptedRequester, out) -> None:
    def trade(symbol: str, side: str, quantity: str, note: str) -> None:
        client_req_id = requester.request(symbol, side, Decimal(quantity))
        best = requester.collect_quotes(client_req_id, QUOTE_COLLECTION_S)
        if best is None:
            print(f"  {client_req_id}: no quote", file=out)
            return
        resp_id = requester.accept(best)
        report = requester.wait_report(resp_id, ("F", "8"))
        if report.msg_type == "j":
            print(f"  {client_req_id} {note}: refused: {report.get(t.TEXT)}", file=out)
            return
        status = {"1": "partially filled", "2": "filled", "8": "rejected"}.get(report[t.ORD_STATUS], "?")
        print(f"  {client_req_id} {note}: {side} {quantity} {symbol} -> {report.get(t.LAST_QTY, '0')} @ "
              f"{report.get(t.LAST_PX, '-')} ({status}{'; ' + report[t.TEXT] if report.get(t.TEXT) else ''})",
              file=out)

    print("Running scenarios:", file=out)
    trade("AAPL", "buy", "10", "buy, broker executes at the venue")
    trade("MSFT", "sell", "5", "sell, the best bid wins")
    trade("NVDA", "buy", "20000", "large buy, the venue fills only the touch (partial)")
    trade("AAPL", "sell", "20", "sell, broker executes at the venue")
    expired_id = requester.request("NVDA", "buy", Decimal(7))
    print(f"  {expired_id} expiry: quotes arrive but nobody accepts ...", file=out)
    requester.wait_for("AI", t.QUOTE_REQ_ID, expired_id, timeout_s=DEMO_SUBMISSION_WINDOW_S
                       + DEMO_ACCEPTANCE_WINDOW_S + 5)
    print(f"  {expired_id} expired", file=out)
    bad_id = requester.request("ZZZZ", "buy", Decimal(1))
    reject = requester.wait_for("AG", t.QUOTE_REQ_ID, bad_id)
    print(f"  {bad_id} malformed (unknown symbol): QuoteRequestReject reason "
          f"{reject[t.QUOTE_REQUEST_REJECT_REASON]}: {reject.get(t.TEXT)}", file=out)


def lifecycle_table(stack: Stack) -> list[str]:
    executions = {e.rfq_id: e for e in stack.broker.solver.executions} if stack.broker else {}
    lines = [f"{'RFQ':>4} {'client id':<9} {'side':<4} {'qty':>5} {'sym':<5} {'state':<15} {'quotes':>6} "
             f"{'winner':<8} {'NBBO bid/ask':<17} {'quoted':>8} {'venue px':>10} {'settle px':>10} {'filled':>6}"]
    with stack.uow() as uow:
        for rfq in uow.session.scalars(select(RfqRow).order_by(RfqRow.id)):
            quotes = uow.session.scalars(select(QuoteRow).where(QuoteRow.rfq_id == rfq.id)).all()
            winner = next((q for q in quotes if q.id == rfq.accepted_quote_id), None)
            quoted = (winner.offer_price if rfq.side == "buy" else winner.bid_price) if winner else None
            execution = executions.get(f"rfq-{rfq.id}")  # the broker knows the RFQ by its QuoteReqID
            nbbo = f"{execution.nbbo_bid}/{execution.nbbo_offer}" if execution and execution.nbbo_bid else "-"
            venue_px = f"{execution.venue_average:.4f}" if execution and execution.venue_average else "-"
            lines.append(
                f"{rfq.id:>4} {rfq.client_req_id:<9} {rfq.side:<4} {rfq.quantity:>5} {rfq.symbol:<5} "
                f"{rfq.state:<15} {len(quotes):>6} {(winner.solver_session if winner else '-'):<8} {nbbo:<17} "
                f"{quoted or '-':>8} {venue_px:>10} {rfq.average_price or '-':>10} {rfq.filled_quantity:>6}")
            lines.append("       events: " + " -> ".join(_event_chain(uow, rfq.id)))
    return lines


def _event_chain(uow: SqlUnitOfWork, rfq_id: int) -> list[str]:
    # The gateway's events carry its RFQ number; the broker's carry the QuoteReqID it was sent.
    broker_ref = f'"rfq_id":"rfq-{rfq_id}"'
    rows = uow.session.scalars(select(OutboxRow).where(or_(OutboxRow.rfq_id == rfq_id,
                                                           OutboxRow.payload.contains(broker_ref)))
                               .order_by(OutboxRow.id)).all()
    chain: list[str] = []
    for row in rows:
        label = row.event_type
        if chain and chain[-1].startswith(label):
            count = int(chain[-1].split("x")[-1]) + 1 if "x" in chain[-1] else 2
            chain[-1] = f"{label} x{count}"
        else:
            chain.append(label)
    return chain


def balance_table(stack: Stack) -> list[str]:
    accounts = sorted({f.account for f in stack.settings.funding})
    assets = sorted({f.asset for f in stack.settings.funding}, key=lambda a: (a != "USDC", a))
    lines = [f"{'account':<8} " + " ".join(f"{asset:>22}" for asset in assets)]
    for account in accounts:
        cells = []
        for asset in assets:
            balance = stack.balance(account, asset)
            places = Decimal("0.01") if asset == "USDC" else Decimal(1)
            locked = f" L{balance.locked.quantize(places)}" if balance.locked else ""
            cells.append(f"{balance.available.quantize(places):>16}" + locked.ljust(6))
        lines.append(f"{account:<8} " + " ".join(f"{cell:>22}" for cell in cells))
    return lines


def market_clock(settings: Settings) -> Clock:
    """The real clock during a regular session; otherwise real time moved to the next regular session,
    so the demo shows trading whenever it is run (the shift is printed)."""
    now = SystemClock().now()
    calendar = TradingCalendar({h.day: h for h in exchange_holidays(settings.calendar.exchange,
                                                                    [now.year, now.year + 1])})
    moment = now
    for _ in range(MAX_SEARCH_STEPS):
        if calendar.session_at(moment) is MarketSession.REGULAR and \
                calendar.session_at(moment + timedelta(minutes=30)) is MarketSession.REGULAR:
            return SystemClock() if moment == now else OffsetClock(moment)
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=30 - moment.minute % 30)
    raise RuntimeError("no regular session found in the next weeks: is the holiday calendar current?")


def start_console(stack: Stack, monitoring: Monitoring, out) -> ConsoleServer | None:
    """The operator console beside the demo (watch the RFQs arrive live); None if it cannot start."""
    if not stack.settings.console.enabled:
        return None
    try:
        console = start_stack_console(stack, monitoring)
    except (ConsoleNotConfigured, OSError) as error:
        print(f"(operator console not started: {error})\n", file=out)
        return None
    print(f"Operator console: {console.url} (user {stack.settings.console.username}, the password in "
          f"[console] of the config or $RFQ_CONSOLE__PASSWORD); metrics at {console.url}metrics\n", file=out,
          flush=True)
    return console


def run_demo(base: Settings, out, keep_console: bool = False) -> int:
    clock = market_clock(base)
    if isinstance(clock, OffsetClock):
        print(f"US equities are closed now; the demo runs on a simulated clock starting "
              f"{clock.now().astimezone(EXCHANGE_TZ):%a %Y-%m-%d %H:%M} New York time (regular session).\n",
              file=out)
    stack = Stack(demo_settings(base), clock=clock)
    monitoring = attach_monitoring(stack)
    stack.start()
    console = start_console(stack, monitoring, out)
    clients: list[FixClient] = []
    solvers: list[ScriptedSolver] = []
    try:
        nbbo = stack.reference
        for comp_id, spreads, default in (("SOLVER1", {}, Decimal(35)),
                                          ("SOLVER2", {"MSFT": Decimal(10)}, Decimal(60))):
            client = connect(stack, comp_id)
            clients.append(client)
            solvers.append(ScriptedSolver(client, nbbo, spreads, default, now=stack.clock.now))
        requester_client = connect(stack, "REQ1")
        clients.append(requester_client)
        drop_copy = _connect_drop_copy(stack)
        clients.extend([drop_copy] if drop_copy is not None else [])
        margin_client = connect(stack, "REQ3") if stack.margin is not None else None
        if margin_client is not None:
            clients.append(margin_client)
        assert stack.broker is not None, "the demo runs the broker connector"
        stack.broker.worker.wait_idle()
        _wait_broker_logged_on(stack)
        for solver in solvers:
            solver.start()
        run_scenarios(ScriptedRequester(requester_client), out)
        if margin_client is not None:
            margin_scenario(stack, ScriptedRequester(margin_client), out)
        stack.worker.wait_idle()
        print("\nRFQ lifecycle (NBBO at fill, quoted price, venue fill and settle price side by side):", file=out)
        print("\n".join(lifecycle_table(stack)), file=out)
        if drop_copy is not None:
            print(f"\n{drop_copy_summary(drop_copy)}", file=out)
        print("\nFinal balances (available, L = locked):", file=out)
        print("\n".join(balance_table(stack)), file=out)
        with stack.uow() as uow:
            problems = uow.ledger.check_invariants()
        print(f"\nLedger invariants: {'OK' if not problems else problems}", file=out)
        post_trade(stack, out)
        print(f"Data (SQLite, QuickFIX logs): {stack.data_dir}", file=out)
        if console is not None and keep_console:
            print(f"\nThe stack keeps running: operator console at {console.url}; Ctrl-C stops.", file=out, flush=True)
            wait_for_stop()
        return 0 if not problems else 1
    finally:
        if console is not None:
            console.stop()
        for solver in solvers:
            solver.stop()
        for client in clients:
            client.stop()
        stack.stop()


def post_trade(stack: Stack, out) -> None:
    """The operator's side: the venue's T+1 statement reconciled against our fills, and execution quality."""
    trade_date = stack.clock.now().astimezone(EXCHANGE_TZ).date()
    venue = stack.venue
    assert venue is not None, "the demo runs the venue in process"
    statement = venue.statement(trade_date, stack.settings.broker.comp_id,
                                stack.data_dir / f"statement-{trade_date}.csv")
    positions = venue.positions(stack.data_dir / "positions.csv")
    print(f"\nT+1 reconciliation of {trade_date} against the venue's statement ({statement.name}) and the "
          f"custody position report ({positions.name}):", file=out)
    run_reconcile(argparse.Namespace(trade_date=trade_date, statement=str(statement), positions=str(positions),
                                     price_tolerance=Decimal("0.0001")), stack.settings, stdout=out)
    html = stack.data_dir / "execution-quality.html"
    print(f"\nExecution quality ({html.name} has the chart):", file=out)
    run_report(argparse.Namespace(report_command="execution", date_from=trade_date, date_to=trade_date,
                                  html=str(html)), stack.settings, stdout=out)


def _connect_drop_copy(stack: Stack) -> FixClient | None:
    """The first configured drop-copy session, logged on like a back office would be (README "Drop copy")."""
    comp_id = next((s.comp_id for s in stack.settings.sessions if s.role is Role.DROP_COPY), None)
    return connect(stack, comp_id) if comp_id is not None else None


def drop_copy_summary(client: FixClient, settle_s: float = 3.0) -> str:
    """What the drop-copy session received, once copies stop arriving (at most `settle_s`)."""
    deadline, count, quiet_since = time.monotonic() + settle_s, -1, time.monotonic()
    received: list[Received] = []
    while time.monotonic() < deadline:
        received = [m for m in client.received() if m.msg_type == "8" and m.get(COPY_MSG_INDICATOR) == "Y"]
        if len(received) != count:
            count, quiet_since = len(received), time.monotonic()
        elif time.monotonic() - quiet_since >= DROP_COPY_QUIET_S:
            break
        time.sleep(0.05)
    requester = sum(1 for m in received if m.get(PARTY_ROLE) == str(PARTY_ROLES[CopiedParty.REQUESTER]))
    return (f"Drop copy ({client.comp_id}): {len(received)} ExecutionReports copied -- {requester} sent to "
            f"requesters, {len(received) - requester} fills settled with solvers (solver's side)")


def _wait_broker_logged_on(stack: Stack, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    wanted = {stack.settings.gateway.comp_id, stack.settings.venue.comp_id}
    assert stack.broker is not None, "the demo runs the broker connector"
    while not wanted <= stack.broker.application.logged_on:
        if time.monotonic() > deadline:
            raise TimeoutError("the broker connector did not log on to the gateway and the venue")
        time.sleep(0.05)
