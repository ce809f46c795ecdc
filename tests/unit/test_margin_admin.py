"""`admin margin ACCOUNT` and `admin liquidations` on a real database."""
from __future__ import annotations

import argparse
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from app.settings import Settings
from gateway.liquidation_models import LiquidationRow
from ledger.equity import fund_lending_pool, settle_equity
from ops.admin import add_admin_parser, run_admin

T0 = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def settings(db_url: str, tmp_path) -> Settings:
    return Settings().model_copy(update={"database_url": db_url, "data_dir": tmp_path})


def _run(settings: Settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="rfq-gateway")
    add_admin_parser(parser.add_subparsers(dest="command", required=True))
    return run_admin(parser.parse_args(["admin", *argv]), settings, clock=lambda: T0)


def test_admin_margin_shows_collateral_weights_liabilities_and_distance(settings, uow_factory, capsys):
    with uow_factory() as uow:
        uow.ledger.deposit("ALICE", "AAPL", Decimal(100), "a")  # last close 227.43 from config: no venue running
        uow.ledger.deposit("ALICE", "USDC", Decimal("10.00"), "b")
        fund_lending_pool(uow.ledger, Decimal(100000), "pool")
        settle_equity(uow.ledger, "ALICE", Decimal("-5010.00"), Decimal(10000), "buy")
        uow.commit()
    assert _run(settings, "margin", "ALICE") == 0
    output = capsys.readouterr().out
    # 100 x 227.43 = 22743 notional; AAPL weight min(0.85, 1 / (1 + 0.0004 x sqrt(22743))) = 0.85
    assert "AAPL" in output and "last close" in output and "0.85" in output and "19331.55" in output
    assert "liabilities (borrowed)  5000 USDC" in output
    assert "IMF / MMF               0.20 / 0.10" in output
    assert "distance to liquidation 13831.55 USDC" in output


def test_admin_liquidations_lists_escalated_first(settings, uow_factory, capsys):
    assert _run(settings, "liquidations") == 0
    assert "no liquidations" in capsys.readouterr().out
    with uow_factory() as uow:
        for status in ("filled", "escalated"):
            uow.session.add(LiquidationRow(account="ALICE", session="REQ1", symbol="AAPL", quantity=Decimal(4),
                                           mark=Decimal(100), limit_price=Decimal(98), shortfall=Decimal(100),
                                           attempts=3, status=status, opened_at=T0, updated_at=T0, text=status))
        uow.commit()
    assert _run(settings, "liquidations") == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "ALICE" in line]
    assert [line.split()[2] for line in lines] == ["escalated", "filled"]
