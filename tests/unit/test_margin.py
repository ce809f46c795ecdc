"""Margin math (ledger/margin.py) and marks (ledger/marks.py): examples and hypothesis properties."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.margin import (
    WEIGHT_QUANTUM,
    AccountSnapshot,
    AssetMargin,
    MarginParameters,
    after_buy,
    assess,
    liquidation_order,
    max_borrow_at,
    weight,
)
from ledger.marks import LAST_CLOSE, NBBO_MID, PAR, MarkBook, mark_of

CURVE = AssetMargin(base_weight=Decimal("0.8"), k=Decimal(1), imf_factor=Decimal("0.001"),
                    imf=Decimal("0.2"), mmf=Decimal("0.1"))
PARAMETERS = MarginParameters(default_asset=CURVE)
T0 = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)

notionals = st.decimals(min_value=Decimal(0), max_value=Decimal("1e12"), places=2)
quantities = st.decimals(min_value=Decimal(0), max_value=Decimal("100000"), places=0)
prices = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("5000"), places=2)
cash = st.decimals(min_value=Decimal(0), max_value=Decimal("1000000"), places=2)


def test_weight_is_the_base_weight_for_small_positions_and_falls_with_size():
    assert weight(Decimal(0), CURVE) == Decimal("0.8")
    assert weight(Decimal(10_000), CURVE) == Decimal("0.8")  # 1 / (1 + 0.1) = 0.909 > 0.8
    assert weight(Decimal(1_000_000), CURVE) == Decimal("0.5")  # 1 / (1 + 1)
    assert weight(Decimal(100_000_000), CURVE) == Decimal("0.090909")  # 1 / 11, rounded down


@given(notionals, notionals)
def test_weight_never_rises_with_notional_and_stays_in_bounds(first, second):
    low, high = sorted((first, second))
    assert 0 < weight(high, CURVE) <= weight(low, CURVE) <= CURVE.base_weight
    assert weight(low, CURVE) % WEIGHT_QUANTUM == 0


@given(quantities, prices, cash, cash)
def test_collateral_and_liabilities_are_exact(quantity, price, usdc, borrowed):
    snapshot = AccountSnapshot("alice", usdc=usdc, borrowed=borrowed, positions={"AAPL": quantity})
    margin = assess(snapshot, {"AAPL": price}, PARAMETERS)
    expected_stock = quantity * price * weight(quantity * price, CURVE) if quantity > 0 else Decimal(0)
    assert margin.collateral == usdc + expected_stock
    assert margin.liabilities == borrowed
    assert margin.meets(margin.mmf) == (usdc + expected_stock >= borrowed * Decimal("1.1"))
    assert margin.shortfall + margin.distance_to_liquidation == abs(margin.collateral - borrowed * Decimal("1.1"))


def test_margin_fraction_and_distance():
    snapshot = AccountSnapshot("alice", usdc=Decimal(0), borrowed=Decimal(10_000), positions={"AAPL": Decimal(100)})
    margin = assess(snapshot, {"AAPL": Decimal(200)}, PARAMETERS)  # 20 000 notional, weight 0.8
    assert margin.collateral == Decimal(16_000)
    assert margin.margin_fraction == Decimal("0.6")
    assert margin.distance_to_liquidation == Decimal(5_000)
    assert not margin.below_maintenance
    assert assess(AccountSnapshot("bob"), {}, PARAMETERS).margin_fraction is None


def test_fractions_come_from_the_account_override_else_the_strictest_asset():
    risky = AssetMargin(imf=Decimal("0.3"), mmf=Decimal("0.15"))
    parameters = MarginParameters(default_asset=CURVE, assets={"NVDA": risky},
                                  account_mmf={"carol": Decimal("0.05")})
    assert parameters.fractions("alice", frozenset({"AAPL", "NVDA"})) == (Decimal("0.3"), Decimal("0.15"))
    assert parameters.fractions("carol", frozenset({"AAPL"})) == (Decimal("0.2"), Decimal("0.05"))


def test_after_buy_spends_cash_then_lends_then_borrows():
    snapshot = AccountSnapshot("alice", usdc=Decimal(100), usdc_lent=Decimal(50))
    bought = after_buy(snapshot, "AAPL", Decimal(2), Decimal(400))
    assert (bought.usdc, bought.usdc_lent, bought.borrowed) == (0, 0, Decimal(250))
    assert bought.positions == {"AAPL": Decimal(2)}


@given(cash, quantities, prices)
def test_max_borrow_at_mmf_keeps_the_account_at_or_above_mmf(usdc, quantity, price):
    snapshot = AccountSnapshot("alice", usdc=usdc, positions={"AAPL": quantity})
    margin = assess(snapshot, {"AAPL": price}, PARAMETERS)
    limit = max_borrow_at(margin, margin.mmf)
    assert assess(AccountSnapshot("alice", usdc=usdc, borrowed=limit, positions={"AAPL": quantity}),
                  {"AAPL": price}, PARAMETERS).meets(margin.mmf)
    assert not assess(AccountSnapshot("alice", usdc=usdc, borrowed=limit + Decimal("0.02"),
                                      positions={"AAPL": quantity}), {"AAPL": price}, PARAMETERS).meets(margin.mmf)


@given(st.decimals(min_value=Decimal(1), max_value=Decimal(2000), places=0),
       st.decimals(min_value=Decimal(20), max_value=Decimal(500), places=2),
       st.decimals(min_value=Decimal("0.05"), max_value=Decimal("0.6"), places=2))
def test_a_filled_liquidation_at_its_bound_restores_maintenance_or_sells_everything(quantity, price, drop):
    entry = assess(AccountSnapshot("alice", positions={"AAPL": quantity}), {"AAPL": price}, PARAMETERS)
    borrowed = max_borrow_at(entry, entry.imf)  # bought as far as IMF allows
    fallen = (price * (1 - drop)).quantize(Decimal("0.01"))
    snapshot = AccountSnapshot("alice", borrowed=borrowed, positions={"AAPL": quantity})
    margin = assess(snapshot, {"AAPL": fallen}, PARAMETERS)
    order = liquidation_order(margin, Decimal("0.05"), Decimal("0.02"))
    if not margin.below_maintenance:
        assert order is None
        return
    assert order is not None and 0 < order.quantity <= quantity
    assert order.limit_price >= fallen * Decimal("0.98")
    proceeds = order.quantity * order.limit_price
    repaid = min(proceeds, borrowed)
    after = AccountSnapshot("alice", usdc=proceeds - repaid, borrowed=borrowed - repaid,
                            positions={"AAPL": quantity - order.quantity})
    healed = assess(after, {"AAPL": fallen}, PARAMETERS)
    # The band costs at most 2 % of the sale; the 5 % buffer covers it unless the position is too small.
    assert healed.meets(healed.mmf) or order.quantity == quantity


def test_liquidation_sells_the_highest_mmf_asset_first():
    parameters = MarginParameters(default_asset=CURVE, assets={"NVDA": AssetMargin(imf=Decimal("0.3"),
                                                                                   mmf=Decimal("0.15"))})
    snapshot = AccountSnapshot("alice", borrowed=Decimal(20_000),
                               positions={"AAPL": Decimal(100), "NVDA": Decimal(10)})
    margin = assess(snapshot, {"AAPL": Decimal(200), "NVDA": Decimal(100)}, parameters)
    order = liquidation_order(margin, Decimal("0.05"), Decimal("0.02"))
    assert order is not None and order.symbol == "NVDA"


def test_marks_follow_the_session_rules():
    staleness = timedelta(seconds=10)
    nbbo = (Decimal("99.98"), Decimal("100.02"), T0)
    close = (Decimal("98.50"), T0 - timedelta(hours=20))
    assert mark_of("USDC", T0, True, None, None, staleness).source == PAR
    in_session = mark_of("AAPL", T0, True, nbbo, close, staleness)
    assert (in_session.price, in_session.source, in_session.stale) == (Decimal(100), NBBO_MID, False)
    stale = mark_of("AAPL", T0 + timedelta(seconds=11), True, nbbo, close, staleness)
    assert (stale.price, stale.source, stale.stale) == (Decimal("98.50"), LAST_CLOSE, True)
    holiday = mark_of("AAPL", T0, False, nbbo, close, staleness)
    assert (holiday.price, holiday.source, holiday.stale) == (Decimal("98.50"), LAST_CLOSE, False)
    assert mark_of("AAPL", T0, True, None, None, staleness) is None


def test_mark_book_tells_listeners_when_a_mark_changes():
    changed: list[str] = []
    book = MarkBook(timedelta(seconds=10), lambda symbol, at: True)
    book.subscribe(changed.append)
    book.update_nbbo("AAPL", Decimal(99), Decimal(101), T0)
    book.update_nbbo("AAPL", Decimal(99), Decimal(101), T0 + timedelta(seconds=1))
    book.update_nbbo("AAPL", Decimal(98), Decimal(100), T0 + timedelta(seconds=2))
    assert changed == ["AAPL", "AAPL"]
    assert book.marks({"AAPL", "MSFT"}, T0 + timedelta(seconds=2)) == {"AAPL": Decimal(99)}


def test_invalid_curves_are_refused():
    with pytest.raises(ValueError):
        AssetMargin(imf=Decimal("0.1"), mmf=Decimal("0.2"))
    with pytest.raises(ValueError):
        weight(Decimal(-1), CURVE)


def test_the_last_mid_of_a_session_is_the_close_after_it():
    open_until = T0 + timedelta(hours=1)
    book = MarkBook(timedelta(seconds=10), lambda symbol, at: at < open_until)
    book.update_close("AAPL", Decimal(90), T0 - timedelta(hours=20))
    book.update_nbbo("AAPL", Decimal(99), Decimal(101), T0 + timedelta(minutes=59))
    book.update_nbbo("AAPL", Decimal(80), Decimal(82), T0 + timedelta(hours=2))  # after hours: not a close
    night = book.mark("AAPL", T0 + timedelta(hours=3))
    assert (night.price, night.source, night.stale) == (Decimal(100), LAST_CLOSE, False)
