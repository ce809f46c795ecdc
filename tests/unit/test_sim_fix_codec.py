"""The venue's FIX boundary (broker_sim.fix_codec), without sockets."""
from __future__ import annotations

import random
from decimal import Decimal

import pytest
import quickfix as fix

from tests.fixclient import build_message, parse
from tests.unit.test_sim_market import NOW, REFERENCE_QUOTES
from venue_sim import fix_codec
from venue_sim.fix_codec import CancelOrder, NewOrder, QueryMassStatus, QueryStatus, UndecodableOrder
from venue_sim.market import Market, SymbolMarket
from venue_sim.matching import MatchingEngine

D = Decimal
NEW_ORDER = {35: "D", 11: "c1", 55: "AAPL", 54: "1", 38: "100", 40: "2", 44: "227.44",
             60: "20250314-14:42:13.482"}


def fields_of(message: fix.Message) -> dict:
    return parse(message.toString())


def engine() -> MatchingEngine:
    market = Market.from_symbol_markets([SymbolMarket.with_quotes("AAPL", REFERENCE_QUOTES, random.Random(7))])
    return MatchingEngine(market, lambda: NOW, random.Random(1), id_prefix="T")


def test_new_order_single_decodes_to_a_limit_day_order():
    command = fix_codec.decode(build_message(NEW_ORDER))
    assert command == NewOrder("c1", "AAPL", "buy", D(100), D("227.44"), "day", "limit")


def test_new_order_maps_ioc_and_keeps_unsupported_codes_for_the_engine_to_reject():
    command = fix_codec.decode(build_message({**NEW_ORDER, 54: "5", 59: "3", 40: "1"}))
    assert (command.side, command.time_in_force, command.order_type) == ("5", "ioc", "market")
    events = engine().submit(command.cl_ord_id, command.symbol, command.side, command.quantity,
                             command.limit_price, command.time_in_force, order_type=command.order_type)
    rejected = fields_of(fix_codec.encode_event(events[0]))
    assert (rejected[150], rejected[39], rejected[103], rejected[54]) == ("8", "8", "11", "5")


def test_unreadable_quantity_becomes_an_undecodable_order():
    command = fix_codec.decode(build_message({**NEW_ORDER, 38: "lots"}))
    assert isinstance(command, UndecodableOrder) and "38" in command.text
    rejected = fields_of(fix_codec.encode_undecodable(command, "S1", NOW))
    assert (rejected[11], rejected[150], rejected[103], rejected[37]) == ("c1", "8", "99", "NONE")


def test_cancel_status_and_mass_status_requests_decode():
    cancel = build_message({35: "F", 41: "c1", 11: "x1", 55: "AAPL", 54: "1", 38: "100", 60: NEW_ORDER[60]})
    assert fix_codec.decode(cancel) == CancelOrder("c1", "x1")
    status = build_message({35: "H", 11: "c1", 55: "AAPL", 54: "2"})
    assert fix_codec.decode(status) == QueryStatus("c1", "AAPL", "sell")
    assert fix_codec.decode(build_message({35: "AF", 584: "m1", 585: "7"})) == QueryMassStatus("m1", None)
    by_symbol = build_message({35: "AF", 584: "m2", 585: "1", 55: "AAPL"})
    assert fix_codec.decode(by_symbol) == QueryMassStatus("m2", "AAPL")


def test_unsupported_message_and_missing_field_raise_quickfix_exceptions():
    with pytest.raises(fix.UnsupportedMessageType):
        fix_codec.decode(build_message({35: "R", 131: "q1"}))
    with pytest.raises(fix.FieldNotFound):
        fix_codec.decode(build_message({35: "F", 11: "x1", 55: "AAPL", 54: "1"}))


def test_fill_report_carries_execution_and_nbbo_fields():
    events = engine().submit("c1", "AAPL", "buy", D(1000), D("227.44"), "ioc")
    accepted, filled, canceled = (fields_of(fix_codec.encode_event(e)) for e in events)
    assert (accepted[150], accepted[39], accepted[37], accepted[38], accepted[44]) == ("0", "0", "T-O1", "1000",
                                                                                      "227.44")
    assert (filled[150], filled[39], filled[31], filled[32], filled[14], filled[151], filled[6]) == (
        "F", "1", "227.44", "650", "650", "350", "227.44")
    assert (filled[5002], filled[5003], filled[60]) == ("227.43", "227.44", "20250314-14:42:13.482")
    assert (canceled[150], canceled[39], canceled[151], canceled[14], canceled[59]) == ("4", "4", "0", "650", "3")


def test_cancel_reject_for_an_unknown_order():
    (rejected,) = engine().cancel("ghost", "x1")
    reject = fields_of(fix_codec.encode_event(rejected))
    assert (reject[35], reject[37], reject[11], reject[41], reject[39], reject[434], reject[102]) == (
        "9", "NONE", "x1", "ghost", "8", "1", "1")
    assert "ghost" in reject[58]


def test_mass_status_report_flags_the_last_report():
    venue = engine()
    venue.submit("c1", "AAPL", "buy", D(100), D("227.00"))
    (order,) = venue.orders()
    first = fields_of(fix_codec.encode_mass_status(order, "S1", NOW, "m1", 2, is_last=False))
    last = fields_of(fix_codec.encode_mass_status(order, "S2", NOW, "m1", 2, is_last=True))
    assert (first[150], first[39], first[584], first[911]) == ("I", "0", "m1", "2") and 912 not in first
    assert last[912] == "Y"
