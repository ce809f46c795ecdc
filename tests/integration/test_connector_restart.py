"""The broker connector as its own process is killed after sending its venue order;
the venue fills the order while the connector is down; a new connector process
reloads its state from SQL, reconciles with the venue and settles the fill once."""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.stack import Stack
from broker import models as models_broker
from core.clock import FakeClock
from gateway.models import FillRow, RfqRow
from tests.integration.conftest import REGULAR_SESSION, RunningStack, free_port, stack_settings, wait_until
from transport.fix import tags as t

pytestmark = [pytest.mark.fix, pytest.mark.mqtt]
ROOT = Path(__file__).resolve().parents[2]
VENUE_LATENCY_S = 3.0  # the fill goes out this long after the order: time to kill the connector in between


def connector_process(settings, log_path: Path) -> subprocess.Popen:
    env = dict(os.environ,
               DATABASE_URL=settings.resolved_database_url(), MQTT_URL=settings.mqtt_url,
               RFQ_DATA_DIR=str(settings.data_dir), RFQ_GATEWAY__PORT=str(settings.gateway.port),
               RFQ_VENUE__PORT=str(settings.venue.port), RFQ_VENUE__MD_TOPIC_PREFIX=settings.venue.md_topic_prefix,
               RFQ_SIMULATED_START=REGULAR_SESSION.isoformat(), RFQ_LOG_FORMAT="json",
               # The test steps the market by hand, so prices may be minutes old when quoted.
               RFQ_BROKER__PRICE_STALENESS_S="3600")
    log = log_path.open("ab")
    return subprocess.Popen([sys.executable, "-m", "app.cli", "broker", "run"], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def test_connector_restart_settles_a_fill_made_while_it_was_down(tmp_path):
    base = stack_settings(tmp_path, mqtt_url="mqtt://127.0.0.1:1883")
    settings = base.model_copy(update={"venue": base.venue.model_copy(update={
        "latency_s": VENUE_LATENCY_S, "tick_interval_s": 0.0, "price_improvement_probability": Decimal(0),
        "md_topic_prefix": f"test-{secrets.token_hex(4)}/md", "port": free_port()})})
    stack = Stack(settings, clock=FakeClock(REGULAR_SESSION), with_broker=False)
    stack.start()
    running = RunningStack(stack, stack.clock)
    log_path = tmp_path / "connector.log"
    connector = connector_process(settings, log_path)
    try:
        wait_until(lambda: "BROKER" in stack.engine.book.logged_on, timeout_s=30, what="connector logon")
        requester = running.connect("REQ1")
        usdc_before = running.balance("REQ1", "USDC")[0]

        def broker_quote():
            requester.send("R", [(t.QUOTE_REQ_ID, f"rs-{secrets.token_hex(3)}")], groups=[
                (t.NO_RELATED_SYM, t.SYMBOL, [(t.SYMBOL, "AAPL"), (t.SIDE, "1"), (t.ORDER_QTY, 10)])])
            return requester.wait_for(lambda m: m.msg_type == "S", timeout_s=3)

        shown = None
        for _ in range(10):  # the connector declines until it has prices and has reconciled with the venue
            stack.venue.step_market()  # publishes market data; the market stays still once quoted
            try:
                shown = broker_quote()
                break
            except TimeoutError:
                continue
        assert shown is not None, f"the connector never quoted; log:\n{log_path.read_text()[-3000:]}"
        requester.send("AJ", [(t.QUOTE_RESP_ID, "acc-restart"), (t.QUOTE_ID, shown[t.QUOTE_ID]),
                              (t.QUOTE_RESP_TYPE, 1), (t.SYMBOL, "AAPL")])
        rfq_id = int(shown[t.QUOTE_ID][1:].split("-")[0])
        cl_ord_id = f"rfq-{rfq_id}-001"
        venue_engine = stack.venue.engine
        wait_until(lambda: venue_engine.status(cl_ord_id, owner="BROKER") is not None, what="order at the venue")
        connector.send_signal(signal.SIGKILL)  # before the venue's fill (it comes VENUE_LATENCY_S later)
        connector.wait(10)
        wait_until(lambda: venue_engine.status(cl_ord_id, owner="BROKER").cum_qty == 10, timeout_s=15,
                   what="the venue filling the order while the connector is down")
        with stack.uow() as uow:
            assert uow.session.get(RfqRow, rfq_id).state == "AcceptedBinding"  # nothing settled yet

        connector = connector_process(settings, log_path)
        filled = requester.wait_for(lambda m: m.msg_type == "8" and m.get(t.CL_ORD_ID) == "acc-restart"
                                    and m.get(t.EXEC_TYPE) == "F", timeout_s=30)
        price = Decimal(filled[t.LAST_PX])
        assert (filled[t.ORD_STATUS], Decimal(filled[t.LAST_QTY])) == ("2", Decimal(10))
        running.settle()
        with stack.uow() as uow:
            assert uow.session.get(RfqRow, rfq_id).state == "Filled"
            assert uow.session.scalar(select(func.count(FillRow.id)).where(FillRow.rfq_id == rfq_id)) == 1
            orders = uow.session.scalars(select(models_broker.VenueOrderRow.cl_ord_id)
                                         .where(models_broker.VenueOrderRow.rfq_id == f"rfq-{rfq_id}")).all()
            assert orders == [cl_ord_id]  # never sent twice, never retried
            assert uow.ledger.check_invariants() == []
        assert [o for o in venue_engine.orders() if o.cl_ord_id.startswith(f"rfq-{rfq_id}-")].__len__() == 1
        paid = (price * 10).quantize(Decimal("0.01"), rounding="ROUND_FLOOR")
        assert running.balance("REQ1", "USDC") == (usdc_before - paid, Decimal(0))
    finally:
        connector.send_signal(signal.SIGTERM)
        try:
            connector.wait(15)
        except subprocess.TimeoutExpired:
            connector.kill()
        running.close()
