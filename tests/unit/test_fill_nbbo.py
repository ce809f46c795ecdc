"""The NBBO a requester fill is measured against: the one at the venue's execution, carried by the
broker on its report (5002/5003) and kept with the fill, not the NBBO when the gateway settles it."""
from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select

from broker.fix_codec import encode_execution
from core.types import Side
from gateway.fix.execution_codec import decode_solver_report
from gateway.models import FillRow
from tests import stubs
from tests.unit.test_broker_solver import make_rig, venue, win
from tests.unit.test_drop_copy import Rig

D = Decimal


def test_the_broker_reports_the_venues_nbbo_at_execution_even_after_a_token_withdrawal():
    rig = make_rig()
    win(rig, side=Side.SELL)
    rig.solver.orders.on_report(venue("x1", "F", "2", D("227.50"), D(10), D(10)))
    assert (rig.store.rfqs["rfq-7"].nbbo_bid, rig.store.rfqs["rfq-7"].nbbo_offer) == (D("227.43"), D("227.44"))
    rig.clock.advance(2)
    rig.solver.custody.on_tick()
    [report] = rig.sent["reports"]
    assert (report.nbbo_bid, report.nbbo_offer) == (D("227.43"), D("227.44"))
    decoded = decode_solver_report(encode_execution(report, "o1", stubs.T0), "BROKER")
    assert decoded.reported_nbbo() == (D("227.43"), D("227.44"))


@pytest.mark.parametrize(("reported", "kept"), [
    ((D("227.10"), D("227.20")), (D("227.10"), D("227.20"))),  # the solver's (the venue's) NBBO
    ((None, None), (D("230.00"), D("230.10"))),  # none reported: the gateway's at settlement
    ((D("227.30"), D("227.20")), (D("230.00"), D("230.10"))),  # a crossed pair is not an NBBO
])
def test_the_fill_keeps_the_reported_nbbo_else_the_gateways(sessions, reported, kept):
    rig = Rig(sessions)
    rig.engine.policy = stubs.policy(reference_nbbo=lambda symbol: (D("230.00"), D("230.10")),
                                     counterparties=rig.engine.policy.counterparties)
    rig.engine.handle(stubs.request_quote())
    rig.engine.handle(stubs.submit_quote())
    rig.engine.handle(stubs.accept_quote())
    rig.engine.handle(stubs.report_fill(nbbo_bid=reported[0], nbbo_offer=reported[1]))
    with rig.uow() as uow:
        stored = uow.session.execute(select(FillRow.nbbo_bid, FillRow.nbbo_offer)).one()
    assert tuple(stored) == kept
