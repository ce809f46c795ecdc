"""Best execution over the real path (requester -> gateway -> broker -> venue): the requester fill is
measured against the NBBO of the venue's execution, carried on the broker's report (5002/5003), not the
gateway's NBBO when it settles; the report keeps requester and venue fills apart."""
from __future__ import annotations

import argparse
import io
from dataclasses import replace
from decimal import Decimal

import pytest
from sqlalchemy import select

from broker.models import VenueFillRow
from gateway.models import FillRow
from ops.recon_cli import run_report
from tests.integration.conftest import start_stack
from tests.integration.test_end_to_end import accept, best_quote_shown, report, send_rfq

pytestmark = pytest.mark.fix
SETTLEMENT_NBBO = (Decimal("1.00"), Decimal("2.00"))  # what the gateway would see at settlement


def test_a_broker_fill_keeps_the_venue_nbbo_and_the_report_keeps_the_two_legs_apart(tmp_path):
    running = start_stack(tmp_path)
    try:
        engine = running.stack.engine
        engine.policy = replace(engine.policy, reference_nbbo=lambda symbol: SETTLEMENT_NBBO)
        requester = running.connect("REQ1")
        send_rfq(requester, "be-1", "AAPL", "1", 10)
        shown = best_quote_shown(running, requester, "be-1", quotes_expected=1)
        resp_id = accept(requester, shown)
        report(requester, resp_id, "F")
        running.settle()
        with running.stack.uow() as uow:
            fill = tuple(uow.session.execute(select(FillRow.nbbo_bid, FillRow.nbbo_offer)).one())
            venue = [tuple(row) for row in uow.session.execute(
                select(VenueFillRow.nbbo_bid, VenueFillRow.nbbo_offer).order_by(VenueFillRow.executed_at))]
        assert venue and venue[-1][0] is not None
        assert fill == venue[-1] and fill != SETTLEMENT_NBBO  # the venue's (last) execution, not settlement

        output = io.StringIO()
        day = running.clock.now().date()
        arguments = argparse.Namespace(report_command="execution", date_from=day, date_to=day, html=None)
        assert run_report(arguments, running.stack.settings, stdout=output) == 0
        text = output.getvalue()
        rows: dict[str, list[str]] = {}
        for line in text.splitlines():  # the tier tables come first: FILLS is the second column
            if line.split()[:1] in (["BROKER"], ["BROKER@venue"], ["ALL_REQUESTER"], ["ALL_VENUE"], ["ALL"]):
                rows.setdefault(line.split()[0], line.split())
        assert "ALL" not in rows  # never one total over both legs
        assert rows["ALL_REQUESTER"][1] == rows["BROKER"][1] == "1"  # one requester fill for one trade ...
        assert rows["ALL_VENUE"][1] == rows["BROKER@venue"][1] == str(len(venue))  # ... and the venue's own
    finally:
        running.close()
