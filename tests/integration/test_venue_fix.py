"""The simulated venue over real QuickFIX sessions on loopback."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import pytest

from runtime.ports import free_port
from tests.fixclient import FixTestClient, ReceivedMessage
from transport.fix.reader import format_decimal, format_utc_timestamp
from venue_sim.market import ExchangeQuote, Market
from venue_sim.server import VenueServer

pytestmark = pytest.mark.fix

REPO_ROOT = Path(__file__).resolve().parents[2]
FIX44_XML = REPO_ROOT / "fix_specs" / "FIX44.xml"
VENUE, CLIENT = "VENUE", "CLIENT1"
TIMEOUT_S = 15
D = Decimal


def now() -> datetime:
    return datetime.now(timezone.utc)


def start_venue(tmp_path: Path, **server_options) -> tuple[VenueServer, FixTestClient]:
    """A venue on a free port with a logged-on test client; `server_options` go to VenueServer."""
    port = free_port()
    market = Market({"AAPL": D("227.43"), "MSFT": D("415.10")}, seed=7)
    server = VenueServer("127.0.0.1", port, VENUE, [CLIENT], tmp_path / "venue", FIX44_XML, market, seed=1,
                         **server_options)
    server.start()
    client = FixTestClient("127.0.0.1", port, CLIENT, VENUE, tmp_path / "client", FIX44_XML)
    client.start()
    try:
        client.wait_logged_on(TIMEOUT_S)
    except TimeoutError:
        client.stop()
        server.stop()
        raise
    return server, client


@pytest.fixture
def venue(tmp_path):
    server, client = start_venue(tmp_path)
    yield server, client
    client.stop()
    server.stop()


def new_order(client: FixTestClient, cl_ord_id: str, side: str, quantity, price, symbol: str = "AAPL",
              tif: str | None = None) -> None:
    fields = {35: "D", 11: cl_ord_id, 55: symbol, 54: side, 38: str(quantity), 40: "2",
              44: format_decimal(D(price)), 60: format_utc_timestamp(now())}
    if tif is not None:
        fields[59] = tif
    client.send(fields)


def report(client: FixTestClient, cl_ord_id: str, exec_type: str) -> ReceivedMessage:
    return client.wait_for(lambda m: m.msg_type == "8" and m.get(11) == cl_ord_id and m[150] == exec_type,
                           TIMEOUT_S)


def reports_for(client: FixTestClient, cl_ord_id: str, exec_type: str) -> list[ReceivedMessage]:
    return [m for m in client.received if m.msg_type == "8" and m.get(11) == cl_ord_id and m[150] == exec_type]


def test_buy_fills_in_full_at_the_national_best_offer(venue):
    server, client = venue
    nbbo = server.market.nbbo("AAPL", now())
    new_order(client, "b1", "1", 100, nbbo.ask + D("0.05"))
    accepted = report(client, "b1", "0")
    assert (accepted[39], accepted[151], accepted[14]) == ("0", "100", "0")
    fill = report(client, "b1", "F")
    assert fill[39] == "2"
    assert D(fill[31]) == nbbo.ask and D(fill[32]) == 100
    assert (D(fill[14]), D(fill[151]), D(fill[6])) == (D(100), D(0), nbbo.ask)
    assert (D(fill[5002]), D(fill[5003])) == (nbbo.bid, nbbo.ask)
    assert fill[37] == accepted[37] and fill[17] != accepted[17]
    assert fill[55] == "AAPL" and fill[54] == "1"


def test_ioc_beyond_the_touch_fills_the_touch_and_cancels_the_rest(venue):
    server, client = venue
    nbbo = server.market.nbbo("AAPL", now())
    quantity = nbbo.ask_size + 100
    new_order(client, "i1", "1", quantity, nbbo.ask, tif="3")
    fill = report(client, "i1", "F")
    assert fill[39] == "1"
    assert (D(fill[32]), D(fill[151])) == (nbbo.ask_size, D(100))
    canceled = report(client, "i1", "4")
    assert (canceled[39], D(canceled[151]), D(canceled[14])) == ("4", D(0), nbbo.ask_size)


def test_unknown_symbol_is_rejected(venue):
    _, client = venue
    new_order(client, "u1", "1", 100, "10.00", symbol="ZZZZ")
    rejected = report(client, "u1", "8")
    assert (rejected[39], rejected[103]) == ("8", "1")
    assert "unknown symbol" in rejected[58]


def test_duplicate_cl_ord_id_is_rejected_and_filled_only_once(venue):
    server, client = venue
    nbbo = server.market.nbbo("AAPL", now())
    new_order(client, "d1", "2", 100, nbbo.bid)
    report(client, "d1", "F")
    new_order(client, "d1", "2", 100, nbbo.bid)
    rejected = report(client, "d1", "8")
    assert (rejected[39], rejected[103]) == ("8", "6")
    # The status answer comes after the duplicate on the single worker: nothing can be in flight.
    client.send({35: "H", 11: "d1", 55: "AAPL", 54: "2"})
    status = report(client, "d1", "I")
    assert (status[39], D(status[14])) == ("2", D(100))
    assert len(reports_for(client, "d1", "F")) == 1


def test_order_status_of_a_filled_and_an_unknown_order(venue):
    server, client = venue
    nbbo = server.market.nbbo("MSFT", now())
    new_order(client, "s1", "1", 100, nbbo.ask, symbol="MSFT")
    report(client, "s1", "F")
    client.send({35: "H", 11: "s1", 55: "MSFT", 54: "1"})
    status = report(client, "s1", "I")
    assert (status[39], D(status[14]), D(status[151]), D(status[6])) == ("2", D(100), D(0), nbbo.ask)
    client.send({35: "H", 11: "nope", 55: "MSFT", 54: "1"})
    unknown = report(client, "nope", "I")
    assert unknown[39] == "8" and unknown[37] == "NONE"


def test_cancel_of_a_resting_order_then_cancel_rejects(venue):
    server, client = venue
    nbbo = server.market.nbbo("AAPL", now())
    new_order(client, "r1", "1", 100, nbbo.bid - D("0.10"))
    report(client, "r1", "0")
    cancel = {35: "F", 41: "r1", 11: "x1", 55: "AAPL", 54: "1", 38: "100", 60: format_utc_timestamp(now())}
    client.send(cancel)
    canceled = report(client, "x1", "4")
    assert (canceled[39], canceled[41], D(canceled[151]), D(canceled[14])) == ("4", "r1", D(0), D(0))
    client.send({**cancel, 11: "x2"})
    too_late = client.wait_for(lambda m: m.msg_type == "9" and m[11] == "x2", TIMEOUT_S)
    assert (too_late[41], too_late[39], too_late[434], too_late[102]) == ("r1", "4", "1", "0")
    client.send({**cancel, 41: "ghost", 11: "x3"})
    unknown = client.wait_for(lambda m: m.msg_type == "9" and m[11] == "x3", TIMEOUT_S)
    assert (unknown[102], unknown[37]) == ("1", "NONE")


def test_mass_status_reports_every_order_of_the_session(venue):
    server, client = venue
    nbbo = server.market.nbbo("AAPL", now())
    new_order(client, "m1", "1", 100, nbbo.ask)
    new_order(client, "m2", "1", 100, nbbo.bid - D("0.50"))
    report(client, "m1", "F")
    report(client, "m2", "0")
    client.send({35: "AF", 584: "mass-1", 585: "7"})
    reports = client.wait_for_count(lambda m: m.msg_type == "8" and m.get(584) == "mass-1", 2, TIMEOUT_S)
    assert [(r[11], r[150], r[39], r[911]) for r in reports] == [("m1", "I", "2", "2"), ("m2", "I", "0", "2")]
    assert reports[-1][912] == "Y" and 912 not in reports[0]


def test_resting_order_fills_when_the_market_moves_through_its_limit(venue):
    server, client = venue
    nbbo = server.market.nbbo("AAPL", now())
    new_order(client, "w1", "1", 100, nbbo.bid)
    report(client, "w1", "0")
    spread = nbbo.ask - nbbo.bid
    moved = [ExchangeQuote(q.venue, q.bid - spread, q.bid_size, q.ask - spread, q.ask_size)
             for q in server.market.quotes("AAPL")]
    server.market.requote("AAPL", moved)  # the offer drops exactly onto the resting bid
    server.application.notify_market_update()
    fill = report(client, "w1", "F")
    assert D(fill[31]) == nbbo.bid and D(fill[5003]) == nbbo.bid and fill[39] == "2"


def test_market_steps_publish_nbbo_to_subscribers(venue):
    server, _ = venue
    published = []
    server.subscribe(published.append)
    snapshots = server.step_market()
    assert [n.symbol for n in published] == ["AAPL", "MSFT"]
    assert published == snapshots
    assert all(n.bid < n.ask for n in published)


def test_fill_arrives_after_the_configured_latency(tmp_path):
    server, client = start_venue(tmp_path, latency_s=0.2)
    try:
        nbbo = server.market.nbbo("AAPL", now())
        new_order(client, "l1", "1", 100, nbbo.ask)
        report(client, "l1", "0")
        fill = report(client, "l1", "F")
        assert D(fill[31]) == nbbo.ask
        kinds = [m[150] for m in client.received if m.get(11) == "l1"]
        assert kinds == ["0", "F"]
    finally:
        client.stop()
        server.stop()


def test_ticker_walks_the_market_and_fills_a_resting_order(tmp_path):
    server, client = start_venue(tmp_path, tick_interval_s=0.01)
    published = []
    server.subscribe(published.append)
    try:
        nbbo = server.market.nbbo("AAPL", now())
        new_order(client, "t1", "1", 100, nbbo.bid)
        fill = report(client, "t1", "F")
        assert D(fill[31]) <= nbbo.bid and D(fill[31]) == D(fill[5003])
        assert published and {n.symbol for n in published} <= {"AAPL", "MSFT"}
    finally:
        client.stop()
        server.stop()


def test_mass_status_without_orders_is_answered_with_a_business_reject(venue):
    _, client = venue
    client.send({35: "AF", 584: "mass-empty", 585: "7"})
    reject = client.wait_for(lambda m: m.msg_type == "j", TIMEOUT_S)
    assert (reject[372], reject[379], reject[380]) == ("AF", "mass-empty", "0")


def test_market_orders_are_rejected(venue):
    _, client = venue
    client.send({35: "D", 11: "mk1", 55: "AAPL", 54: "1", 38: "100", 40: "1",
                 60: format_utc_timestamp(now())})
    rejected = report(client, "mk1", "8")
    assert (rejected[39], rejected[103]) == ("8", "11") and "market" in rejected[58]
