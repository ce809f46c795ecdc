"""Lifecycle honesty: an RFQ that settled less than its quantity is PartiallyFilled everywhere -- in the
engine and the database, in `admin rfqs`, in the demo's lifecycle table -- and rows written before the
state existed are corrected by migration 0010."""
from __future__ import annotations

import argparse
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from alembic import command
from sqlalchemy import select

from app.demo import lifecycle_table
from db.engine import alembic_config, create_db_engine, downgrade_to, session_factory, upgrade_to_head
from gateway.domain.rfq import RfqState
from gateway.models import RfqRow
from ops.admin import run_admin
from tests.integration.conftest import start_stack
from tests.integration.test_drop_copy_fix import _filled_rfq
from transport.fix import tags as t

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)


def _rfq_row(rfq_id: int, quantity: str, filled: str) -> RfqRow:
    return RfqRow(id=rfq_id, requester_session="REQ1", requester_account="REQ1", client_req_id=f"c{rfq_id}",
                  symbol="NVDA", side="buy", quantity=Decimal(quantity), limit_price=None, state="Filled",
                  mode="AwaitAccept", origin="QuoteRequest", created_at=T0, submission_deadline=T0,
                  acceptance_deadline=T0 + timedelta(seconds=1), filled_quantity=Decimal(filled),
                  average_price=Decimal("131.25"), updated_at=T0)


def _states(url: str) -> dict[int, str]:
    engine = create_db_engine(url)
    try:
        with session_factory(engine)() as session:
            return {rfq_id: state for rfq_id, state in session.execute(select(RfqRow.id, RfqRow.state))}
    finally:
        engine.dispose()


def test_migration_0010_moves_partial_fills_out_of_filled_and_back(empty_db_url: str) -> None:
    command.upgrade(alembic_config(empty_db_url), "0008")
    engine = create_db_engine(empty_db_url)
    try:
        with session_factory(engine)() as session, session.begin():
            # 2,400 of 20,000 (compared as Decimals: as text "2400" > "20000"), a full fill, 9.5 of 10.
            session.add_all([_rfq_row(1, "20000", "2400"), _rfq_row(2, "100", "100"), _rfq_row(3, "10", "9.5")])
    finally:
        engine.dispose()
    upgrade_to_head(empty_db_url)
    assert _states(empty_db_url) == {1: "PartiallyFilled", 2: "Filled", 3: "PartiallyFilled"}
    downgrade_to(empty_db_url, "0008")
    assert _states(empty_db_url) == {1: "Filled", 2: "Filled", 3: "Filled"}


def test_a_partial_fill_is_partially_filled_in_the_engine_the_cli_and_the_demo_table(tmp_path, capsys) -> None:
    running = start_stack(tmp_path, with_broker=False)
    try:
        requester, solver = running.connect("REQ1"), running.connect("SOLVER1")
        _filled_rfq(requester, solver, "full", "x-full")  # 10 of 10
        requester.send("R", [(t.QUOTE_REQ_ID, "part")], groups=[
            (t.NO_RELATED_SYM, t.SYMBOL, [(t.SYMBOL, "AAPL"), (t.SIDE, "1"), (t.ORDER_QTY, 10)])])
        forwarded = solver.wait_for(lambda m: m.msg_type == "R")
        solver.send("S", [(t.QUOTE_REQ_ID, forwarded[t.QUOTE_REQ_ID]), (t.QUOTE_ID, "s-part"), (t.SYMBOL, "AAPL"),
                          (t.BID_PX, Decimal("227.00")), (t.OFFER_PX, Decimal("228.00"))])
        shown = requester.wait_for(lambda m: m.msg_type == "S" and m.get(t.QUOTE_REQ_ID) == "part")
        requester.send("AJ", [(t.QUOTE_RESP_ID, "a-part"), (t.QUOTE_ID, shown[t.QUOTE_ID]), (t.QUOTE_RESP_TYPE, 1),
                              (t.SYMBOL, "AAPL")])
        accepted = solver.wait_for(lambda m: m.msg_type == "AJ")
        solver.send("8", [(t.ORDER_ID, "x-part"), (t.QUOTE_RESP_ID, accepted[t.QUOTE_RESP_ID]), (t.EXEC_ID, "x-part"),
                          (t.EXEC_TYPE, "F"), (t.ORD_STATUS, "1"), (t.SYMBOL, "AAPL"), (t.SIDE, "2"),
                          (t.LAST_QTY, 4), (t.LAST_PX, Decimal("228.00")), (t.LEAVES_QTY, 0), (t.CUM_QTY, 4),
                          (t.AVG_PX, Decimal("228.00"))])
        requester.wait_for(lambda m: m.msg_type == "8" and m.get(t.CL_ORD_ID) == "a-part" and m.get(t.EXEC_TYPE) == "3")
        running.settle()
        book = running.stack.engine.book
        assert book.rfq_by_client_id("REQ1", "full").state is RfqState.FILLED
        assert book.rfq_by_client_id("REQ1", "part").state is RfqState.PARTIALLY_FILLED
        # OrderStatusRequest: done after a partial (39=3), never "filled".
        requester.send("H", [(t.CL_ORD_ID, "part"), (t.SYMBOL, "AAPL"), (t.SIDE, "1")])
        status = requester.wait_for(lambda m: m.msg_type == "8" and m.get(t.EXEC_TYPE) == "I")
        assert (status[t.ORD_STATUS], status[t.CUM_QTY]) == ("3", "4")

        arguments = argparse.Namespace(admin_command="rfqs", state="PartiallyFilled", limit=50)
        capsys.readouterr()
        assert run_admin(arguments, running.stack.settings) == 0
        lines = capsys.readouterr().out.splitlines()
        rows = [line.split() for line in lines[next(i for i, line in enumerate(lines) if line.startswith("ID")) + 1:]]
        assert [(row[0], row[5], row[7]) for row in rows] == [("2", "PartiallyFilled", "4")]

        table = {line.split()[0]: line.split() for line in lifecycle_table(running.stack) if line.split()[0].isdigit()}
        assert table["1"][5] == "Filled" and table["2"][5] == "PartiallyFilled"
    finally:
        running.close()
