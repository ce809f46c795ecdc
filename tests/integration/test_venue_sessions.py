"""Session gating, the T+1 statement and the custody report of the venue, over real QuickFIX sessions."""
from __future__ import annotations

import csv
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import FakeClock
from tests.fixclient import FixTestClient
from tests.integration.test_venue_fix import CLIENT, new_order, report, start_venue
from tests.unit.test_sim_sessions import CALENDAR_2026, et
from venue_sim.server import VenueServer

pytestmark = pytest.mark.fix

D = Decimal
SATURDAY = et(2026, 11, 21, 10, 0)
MONDAY_TEN_AM = et(2026, 11, 23, 10, 0)


def start_gated_venue(tmp_path: Path, clock: FakeClock) -> tuple[VenueServer, FixTestClient]:
    return start_venue(tmp_path, clock=clock.now, calendar=CALENDAR_2026, cusips={"AAPL": "037833100"},
                       opening_positions={CLIENT: {"AAPL": D(1000)}})


@pytest.fixture
def gated_venue(tmp_path):
    clock = FakeClock(SATURDAY)
    server, client = start_gated_venue(tmp_path, clock)
    yield server, client, clock
    client.stop()
    server.stop()


def test_order_outside_market_hours_is_rejected_with_exchange_closed(gated_venue):
    server, client, _ = gated_venue
    nbbo = server.market.nbbo("AAPL", SATURDAY)
    new_order(client, "sat1", "1", 100, nbbo.ask)
    rejected = report(client, "sat1", "8")
    assert (rejected[39], rejected[103]) == ("8", "2")
    assert rejected[58] == "exchange closed at 2026-11-21 10:00 ET: weekend"
    assert server.engine.fills() == []


def test_monday_fills_appear_in_the_statement_and_the_custody_report(gated_venue, tmp_path):
    server, client, clock = gated_venue
    clock.advance((MONDAY_TEN_AM - SATURDAY).total_seconds())
    nbbo = server.market.nbbo("AAPL", MONDAY_TEN_AM)
    new_order(client, "mon1", "1", 100, nbbo.ask)
    bought = report(client, "mon1", "F")
    sell_bid = server.market.nbbo("AAPL", MONDAY_TEN_AM).bid
    new_order(client, "mon2", "2", 40, sell_bid)
    sold = report(client, "mon2", "F")

    statement = server.statement(date(2026, 11, 23), CLIENT, tmp_path / "statement.csv")
    rows = list(csv.DictReader(statement.open(encoding="utf-8")))
    assert [(r["trade_id"], r["cl_ord_id"], r["venue_order_id"], r["side"], D(r["price"])) for r in rows] == [
        (bought[17], "mon1", bought[37], "buy", D(bought[31])),
        (sold[17], "mon2", sold[37], "sell", D(sold[31])),
    ]
    assert {(r["trade_date"], r["settlement_date"], r["account"], r["cusip"]) for r in rows} == {
        ("2026-11-23", "2026-11-24", CLIENT, "037833100")}
    assert [D(r["quantity"]) for r in rows] == [D(100), D(40)]

    clock.advance(60)
    positions = server.positions(tmp_path / "positions.csv")
    assert positions.read_text(encoding="utf-8").splitlines() == [
        "as_of,account,symbol,cusip,quantity",
        f"{datetime(2026, 11, 23, 15, 1, tzinfo=timezone.utc).isoformat()},{CLIENT},AAPL,037833100,1060",
    ]
