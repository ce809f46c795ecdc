"""Same seed, same script: the same market path and the same fills, price improvement draws included."""
from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from tests.unit.test_sim_sessions import CALENDAR_2026, SettableClock, et
from venue_sim.events import OrderFilled
from venue_sim.market import Market
from venue_sim.matching import MatchingEngine
from venue_sim.statements import write_statement

D = Decimal
TRADE_DATE = date(2026, 11, 23)


def scripted_session(market_seed: int, engine_seed: int, statement_path: Path) -> tuple[list, list, bytes]:
    """40 steps of a two-symbol market, with buys, sells, IOCs and resting day orders."""
    clock = SettableClock(et(2026, 11, 23, 9, 30))
    market = Market({"AAPL": D("227.43"), "MSFT": D("415.20")}, seed=market_seed)
    engine = MatchingEngine(market, clock, random.Random(engine_seed), D("0.5"), calendar=CALENDAR_2026)
    path_of_nbbo, fills = [], []
    for step in range(40):
        clock.at += timedelta(seconds=7)
        market.step_all()
        symbol = ("AAPL", "MSFT")[step % 2]
        nbbo = market.nbbo(symbol, clock())
        path_of_nbbo.append((nbbo.bid, nbbo.bid_size, nbbo.ask, nbbo.ask_size))
        side = ("buy", "sell")[(step // 2) % 2]
        limit = nbbo.ask if side == "buy" else nbbo.bid
        resting = step % 5 == 0  # a limit one tick away rests and fills on a later step
        if resting:
            limit += D("-0.01") if side == "buy" else D("0.01")
        events = engine.submit(f"c{step}", symbol, side, D(100 * (1 + step % 7)), limit,
                               "day" if resting else "ioc", owner="BROKER")
        events += engine.on_market_update()
        fills += [event.fill for event in events if isinstance(event, OrderFilled)]
    write_statement(engine.fills(), TRADE_DATE, "BROKER", statement_path, {"AAPL": "037833100"}, CALENDAR_2026)
    return path_of_nbbo, fills, statement_path.read_bytes()


def test_replaying_a_scripted_session_with_the_same_seeds_gives_identical_fills_and_statement(tmp_path):
    first = scripted_session(7, 11, tmp_path / "first.csv")
    second = scripted_session(7, 11, tmp_path / "second.csv")
    nbbo_path, fills, statement = first
    assert len(fills) >= 20, "the script should trade on most steps"
    assert any(f.last_px not in (f.nbbo_bid, f.nbbo_offer) for f in fills), "some fills should be improved"
    assert nbbo_path == second[0]
    assert [repr(fill) for fill in fills] == [repr(fill) for fill in second[1]]
    assert statement == second[2]
    assert statement.count(b"\n") == len(fills) + 1


def test_another_engine_seed_draws_other_price_improvements(tmp_path):
    _, fills, statement = scripted_session(7, 11, tmp_path / "first.csv")
    _, other_fills, other_statement = scripted_session(7, 12, tmp_path / "other.csv")
    assert [f.last_px for f in fills] != [f.last_px for f in other_fills]
    assert statement != other_statement
