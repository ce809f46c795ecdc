"""Lends, borrow repayment and post-trade equity bounded by MMF (ledger/lending.py), on SQLite and
PostgreSQL; the [margin] settings; the reserves CLI end to end."""
from __future__ import annotations

import argparse
import io
import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from app.settings import MarginAssetSection, Settings
from ledger.equity import LENDING_POOL_OWNER, USDC_BORROW, fund_lending_pool
from ledger.lending import accounts_with_borrow, lend_usdc, repay_borrow, settle_post_trade, snapshot_of
from ledger.margin import USDC_LEND, AssetMargin, MarginParameters
from ops.reserves import run_reserves
from tests.stubs import T0

PARAMETERS = MarginParameters(default_asset=AssetMargin(base_weight=Decimal("0.5"), imf_factor=Decimal(0)))
MARKS = {"AAPL": Decimal(100)}


def _setup(uow_factory):
    with uow_factory() as uow:
        uow.ledger.deposit("alice", "USDC", Decimal(300), "d1")
        uow.ledger.deposit("alice", "AAPL", Decimal(100), "d2")  # 10 000 notional, 5 000 collateral
        fund_lending_pool(uow.ledger, Decimal(100_000), "pool")
        lend_usdc(uow.ledger, "alice", Decimal(200), "lend")
        uow.commit()


def test_drain_then_redeem_then_borrow_capped_at_mmf_and_idempotent(uow_factory):
    _setup(uow_factory)
    with uow_factory() as uow:
        settled = settle_post_trade(uow.ledger, "alice", Decimal("-6000.00"), MARKS, PARAMETERS, "t1")
        assert uow.ledger.check_invariants() == []
        uow.commit()
    # 100 cash drained + 200 redeemed; borrow capped at 5000 / 1.1 = 4545.45; the rest is short.
    assert settled.redeemed_usdc == Decimal(200)
    assert settled.equity.drained_usdc == Decimal(300) and settled.equity.borrowed_usdc == Decimal("4545.45")
    assert settled.equity.shortfall_usdc == Decimal("1154.55")
    with uow_factory() as uow:
        again = settle_post_trade(uow.ledger, "alice", Decimal("-6000.00"), MARKS, PARAMETERS, "t1")
        snapshot = snapshot_of(uow.ledger, "alice")
        assert accounts_with_borrow(uow.ledger) == ["alice"]
    assert again.equity == settled.equity
    assert (snapshot.usdc, snapshot.usdc_lent, snapshot.borrowed) == (0, 0, Decimal("4545.45"))


def test_repay_borrow_from_proceeds(uow_factory):
    _setup(uow_factory)
    with uow_factory() as uow:
        settle_post_trade(uow.ledger, "alice", Decimal("-1000.00"), MARKS, PARAMETERS, "t1")
        uow.ledger.deposit("alice", "USDC", Decimal("400.123"), "proceeds")
        assert repay_borrow(uow.ledger, "alice", None, "r1") == Decimal("400.12")
        assert repay_borrow(uow.ledger, "alice", None, "r1") == Decimal("400.12")  # replay
        # 1000 owed: 200 lent redeemed, 300 cash drained, 700 borrowed; 400.12 of it repaid (dust stays).
        assert uow.ledger.balance("alice", USDC_BORROW).available == Decimal("299.88")
        assert uow.ledger.balance(LENDING_POOL_OWNER, USDC_BORROW).available == Decimal("99700.12")
        assert uow.ledger.balance("alice", USDC_LEND).available == 0
        assert uow.ledger.check_invariants() == []


def test_margin_settings_refuse_mmf_at_or_above_imf():
    with pytest.raises(ValidationError):
        MarginAssetSection(imf=Decimal("0.1"), mmf=Decimal("0.1"))
    parameters = Settings().margin.parameters()
    assert parameters.asset("NVDA").imf == Decimal("0.25") and parameters.asset("ZZZ") == parameters.default_asset


def test_reserves_cli_publishes_and_proves(db_url, uow_factory, tmp_path):
    with uow_factory() as uow:
        uow.ledger.deposit("alice", "USDC", Decimal(5), "a")
        uow.ledger.deposit("bob", "USDC", Decimal(7), "b")
        uow.commit()
    settings = Settings().model_copy(update={"database_url": db_url, "data_dir": tmp_path})
    out = io.StringIO()
    assert run_reserves(argparse.Namespace(reserves_command="publish"), settings, now=_now(), output=out) == 0
    assert "USDC" in out.getvalue() and "12" in out.getvalue()
    proof = io.StringIO()
    assert run_reserves(argparse.Namespace(reserves_command="proof", account="bob", run=None), settings, _now(),
                        output=proof) == 0
    path = tmp_path / "bob.json"
    path.write_text(proof.getvalue())
    assert json.loads(proof.getvalue())["proofs"][0]["balance"] == "7"
    verified = io.StringIO()
    assert run_reserves(argparse.Namespace(reserves_command="verify", file=str(path)), settings, _now(),
                        output=verified) == 0


def _now():
    return T0
