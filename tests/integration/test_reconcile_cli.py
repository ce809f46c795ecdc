"""`rfq-gateway reconcile` and `rfq-gateway report execution` end to end, on SQLite and PostgreSQL."""
from __future__ import annotations

import argparse
import io
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.reference_data import seed_reference_data
from app.settings import Settings
from broker.models import BrokerRfqRow, VenueFillRow, VenueOrderRow
from gateway.domain.rfq import ExecutionMode, RfqOrigin
from gateway.models import FillRow, QuoteRow, RfqRow
from ledger.uow import SqlUnitOfWork
from ops.recon_cli import add_reconcile_parser, add_report_parser, run_reconcile, run_report
from recon.files import net_amount, positions_csv, statement_csv
from recon.models import CustodyPosition, ReconBreak, ReconRun
from recon.reconciliation import CustodyHolding, StatementRow

UowFactory = Callable[..., SqlUnitOfWork]
TRADE_DATE = date(2026, 11, 20)  # Friday
SETTLES = date(2026, 11, 23)
T0 = datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc)  # 10:00 New York
RUN_AT = datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc)

# Our venue fills of the day: (trade id, symbol, side, quantity, price).
OUR_FILLS = [("E1", "AAPL", "buy", "100", "227.43"), ("E2", "MSFT", "sell", "5", "415.2"),
             ("E3", "NVDA", "buy", "0.5", "131.2534"), ("E4", "AAPL", "sell", "10", "227.44")]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return Settings().model_copy(update={"database_url": db_url})


@pytest.fixture
def seeded(uow_factory: UowFactory) -> UowFactory:
    with uow_factory() as uow:
        seed_reference_data(uow.session, Settings())
        uow.commit()
    return uow_factory


def _insert_venue_fills(uow_factory: UowFactory, fills: list[tuple[str, str, str, str, str]],
                        trade_date: date = TRADE_DATE, nbbo: tuple[str, str] | None = None,
                        broker_state: str = "Filled") -> None:
    """Our venue fills, each of a broker RFQ in `broker_state` (Filled: the gateway settled it)."""
    with uow_factory() as uow:
        for index, (trade_id, symbol, side, quantity, price) in enumerate(fills):
            at = datetime.combine(trade_date, datetime.min.time(), tzinfo=timezone.utc) + timedelta(hours=15,
                                                                                                    minutes=index)
            uow.session.add(BrokerRfqRow(
                rfq_id=f"rfq-{trade_id}", quote_resp_id=f"QR{trade_id}", symbol=symbol, side=side,
                quantity=Decimal(quantity), quoted_price=Decimal(price), margin_bps=Decimal(0), state=broker_state,
                filled_quantity=Decimal(quantity), venue_average=Decimal(price), settle_price=Decimal(price),
                text=None, updated_at=at, settle_by=None))
            uow.session.add(VenueOrderRow(
                cl_ord_id=f"rfq-{trade_id}-001", rfq_id=f"rfq-{trade_id}", attempt=1, quote_resp_id=f"QR{trade_id}",
                symbol=symbol, side=side, quantity=Decimal(quantity), limit_price=Decimal(price),
                quoted_price=Decimal(price), state="filled", cum_quantity=Decimal(quantity),
                notional=Decimal(quantity) * Decimal(price), venue_order_id=f"V{trade_id}", reported=True,
                text=None, sent_at=at, updated_at=at))
            uow.session.flush()
            uow.session.add(VenueFillRow(
                exec_id=trade_id, cl_ord_id=f"rfq-{trade_id}-001", venue_order_id=f"V{trade_id}", symbol=symbol,
                side=side, quantity=Decimal(quantity), price=Decimal(price),
                nbbo_bid=Decimal(nbbo[0]) if nbbo else None, nbbo_offer=Decimal(nbbo[1]) if nbbo else None,
                executed_at=at, trade_date=trade_date))
        uow.commit()


def _statement_row(trade_id: str, symbol: str, side: str, quantity: str, price: str) -> StatementRow:
    return StatementRow(trade_id, TRADE_DATE, SETTLES, "BROKER", symbol, "", side, Decimal(quantity),
                        Decimal(price), net_amount(Decimal(quantity), Decimal(price)), f"rfq-{trade_id}-001",
                        f"V{trade_id}")


CLEAN_STATEMENT = [_statement_row(*fill) for fill in OUR_FILLS]


def _write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="rfq-gateway")
    commands = parser.add_subparsers(dest="command", required=True)
    add_reconcile_parser(commands)
    add_report_parser(commands)
    return parser.parse_args(list(argv))


def _reconcile(settings: Settings, statement: str, *extra: str) -> tuple[int, str]:
    output = io.StringIO()
    args = _parse("reconcile", "--trade-date", TRADE_DATE.isoformat(), "--statement", statement, *extra)
    exit_code = run_reconcile(args, settings, stdout=output, clock=lambda: RUN_AT)
    return exit_code, output.getvalue()


def _count(uow_factory: UowFactory, model: type) -> int:
    with uow_factory() as uow:
        return uow.session.scalar(select(func.count()).select_from(model)) or 0


def _stored_breaks(uow_factory: UowFactory) -> list[tuple[str, str | None, str | None, str | None, str | None]]:
    with uow_factory() as uow:
        rows = uow.session.execute(select(ReconBreak.kind, ReconBreak.trade_id, ReconBreak.symbol, ReconBreak.ours,
                                          ReconBreak.theirs).order_by(ReconBreak.kind, ReconBreak.trade_id))
        return [tuple(row) for row in rows]


def test_clean_day_exits_zero_and_records_the_run(settings: Settings, seeded: UowFactory, tmp_path: Path) -> None:
    _insert_venue_fills(seeded, OUR_FILLS)
    exit_code, output = _reconcile(settings, _write(tmp_path, "statement.csv", statement_csv(CLEAN_STATEMENT)))
    assert exit_code == 0
    assert output.splitlines()[-1] == "0 breaks: 4 trades matched"
    assert "expected settlement date 2026-11-23" in output
    with seeded() as uow:
        run = uow.session.scalars(select(ReconRun)).one()
        assert (run.trade_date, run.settlement_date, run.matched, run.breaks, run.statement_rows) == (
            TRADE_DATE, SETTLES, 4, 0, 4)
        assert run.started_at == RUN_AT and run.price_tolerance == Decimal("0.0001")
    assert _count(seeded, ReconBreak) == 0


FAULTY_STATEMENT = [
    CLEAN_STATEMENT[0],
    replace(_statement_row("E2", "MSFT", "sell", "6", "415.2"), settlement_date=date(2026, 11, 24)),
    _statement_row("E3", "NVDA", "sell", "0.5", "131.2536"),
    _statement_row("E9", "AAPL", "buy", "1", "227"),
]  # E4 missing on the statement


def test_faults_are_found_printed_and_stored_with_exit_one(settings: Settings, seeded: UowFactory,
                                                           tmp_path: Path) -> None:
    _insert_venue_fills(seeded, OUR_FILLS)
    exit_code, output = _reconcile(settings, _write(tmp_path, "statement.csv", statement_csv(FAULTY_STATEMENT)))
    assert exit_code == 1
    expected = [
        ("missing_ours", "E9", "AAPL", None, "buy 1 AAPL @ 227"),
        ("missing_theirs", "E4", "AAPL", "sell 10 AAPL @ 227.44", None),
        ("price_mismatch", "E3", "NVDA", "131.2534", "131.2536"),
        ("quantity_mismatch", "E2", "MSFT", "5", "6"),
        ("settlement_date_mismatch", "E2", "MSFT", "2026-11-23", "2026-11-24"),
        ("side_mismatch", "E3", "NVDA", "buy", "sell"),
    ]
    assert _stored_breaks(seeded) == expected
    lines = output.splitlines()
    header = next(index for index, line in enumerate(lines) if line.startswith("KIND"))
    printed = [line.split() for line in lines[header + 1:header + 7]]
    assert sorted((row[0], row[1]) for row in printed) == sorted((kind, trade_id) for kind, trade_id, *_ in expected)
    assert lines[-1] == "6 breaks: 1 trade matched"


def test_a_venue_fill_the_gateway_did_not_settle_is_a_break(settings: Settings, seeded: UowFactory,
                                                           tmp_path: Path) -> None:
    _insert_venue_fills(seeded, OUR_FILLS)
    _insert_venue_fills(seeded, [("E5", "AAPL", "buy", "3", "227.45")], broker_state="Unsettled")
    rows = CLEAN_STATEMENT + [_statement_row("E5", "AAPL", "buy", "3", "227.45")]
    exit_code, output = _reconcile(settings, _write(tmp_path, "statement.csv", statement_csv(rows)))
    assert exit_code == 1
    assert _stored_breaks(seeded) == [("unsettled_venue_fill", "E5", "AAPL", "buy 3 AAPL @ 227.45",
                                       "not settled by the gateway: RFQ rfq-E5 is Unsettled")]
    assert "unsettled_venue_fill" in output


def test_rerun_of_the_same_statement_is_idempotent(settings: Settings, seeded: UowFactory, tmp_path: Path) -> None:
    _insert_venue_fills(seeded, OUR_FILLS)
    statement = _write(tmp_path, "statement.csv", statement_csv(FAULTY_STATEMENT))
    first = _reconcile(settings, statement)
    first_breaks = _stored_breaks(seeded)
    second = _reconcile(settings, statement)
    assert second == first
    assert _stored_breaks(seeded) == first_breaks
    assert (_count(seeded, ReconRun), _count(seeded, ReconBreak)) == (1, 6)
    # Another statement for the same day is another run; the first one is kept.
    assert _reconcile(settings, _write(tmp_path, "fixed.csv", statement_csv(CLEAN_STATEMENT)))[0] == 0
    assert (_count(seeded, ReconRun), _count(seeded, ReconBreak)) == (2, 6)


def test_statement_trade_recorded_under_another_date(settings: Settings, seeded: UowFactory, tmp_path: Path) -> None:
    _insert_venue_fills(seeded, OUR_FILLS)
    _insert_venue_fills(seeded, [("E7", "AAPL", "buy", "1", "227")], trade_date=date(2026, 11, 19))
    statement = CLEAN_STATEMENT + [_statement_row("E7", "AAPL", "buy", "1", "227")]
    exit_code, _output = _reconcile(settings, _write(tmp_path, "statement.csv", statement_csv(statement)))
    assert exit_code == 1
    assert _stored_breaks(seeded) == [
        ("missing_ours", "E7", "AAPL", "recorded on trade date 2026-11-19", "buy 1 AAPL @ 227")]


@pytest.mark.parametrize(("content", "message"), [
    ("trade_id,price\nE1,1\n", "statement.csv line 1: header must be exactly"),
    (statement_csv(CLEAN_STATEMENT).replace("227.43,", "2.2743E2,", 1), "price '2.2743E2' is not a plain"),
    (statement_csv(CLEAN_STATEMENT).replace("2026-11-20", "2026-11-19", 1), "not the reconciled date"),
])
def test_malformed_statement_exits_two_and_records_nothing(settings: Settings, seeded: UowFactory, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str], content: str,
                                                           message: str) -> None:
    _insert_venue_fills(seeded, OUR_FILLS)
    exit_code, output = _reconcile(settings, _write(tmp_path, "statement.csv", content))
    assert exit_code == 2
    assert output == ""
    assert message in capsys.readouterr().err
    assert _count(seeded, ReconRun) == 0


def test_missing_file_and_unseeded_calendar_exit_two(settings: Settings, uow_factory: UowFactory, tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert _reconcile(settings, str(tmp_path / "absent.csv"))[0] == 2
    assert "cannot read statement file" in capsys.readouterr().err
    exit_code, _output = _reconcile(settings, _write(tmp_path, "statement.csv", statement_csv([])))
    assert exit_code == 2
    assert "market_holidays has no rows for 2026" in capsys.readouterr().err
    assert _count(uow_factory, ReconRun) == 0


def _fund(uow_factory: UowFactory) -> None:
    with uow_factory() as uow:
        uow.ledger.deposit("REQ1", "AAPL", Decimal("500"), "fund-req1-aapl")
        uow.ledger.deposit("SOLVER1", "AAPL", Decimal("10000"), "fund-solver1-aapl")
        uow.ledger.deposit("SOLVER1", "MSFT", Decimal("200"), "fund-solver1-msft")
        uow.ledger.deposit("REQ1", "USDC", Decimal("1000"), "fund-req1-usdc")  # not a stock: not checked
        lock_key = "lock-req1-aapl"
        uow.ledger.lock("h1", "REQ1", "AAPL", Decimal("50"), lock_key)  # locked shares are still owned
        uow.commit()


def test_reserves_check_against_custody(settings: Settings, seeded: UowFactory, tmp_path: Path) -> None:
    _insert_venue_fills(seeded, OUR_FILLS)
    _fund(seeded)
    statement = _write(tmp_path, "statement.csv", statement_csv(CLEAN_STATEMENT))
    as_of = datetime(2026, 11, 21, 1, 0, tzinfo=timezone.utc)
    balanced = [CustodyHolding(as_of, "BROKER", "AAPL", "037833100", Decimal("10000")),
                CustodyHolding(as_of, "OMNIBUS", "AAPL", "037833100", Decimal("500")),
                CustodyHolding(as_of, "BROKER", "MSFT", "594918104", Decimal("200"))]
    exit_code, output = _reconcile(settings, statement, "--positions",
                                   _write(tmp_path, "positions.csv", positions_csv(balanced)))
    assert exit_code == 0, output
    assert "as of 2026-11-21T01:00:00+00:00" in output
    assert _count(seeded, CustodyPosition) == 3
    short = [*balanced[:2], replace(balanced[2], quantity=Decimal("150")),
             CustodyHolding(as_of, "BROKER", "NVDA", "67066G104", Decimal("0"))]
    exit_code, output = _reconcile(settings, statement, "--positions",
                                   _write(tmp_path, "positions.csv", positions_csv(short)))
    assert exit_code == 1
    assert _stored_breaks(seeded) == [("reserves_mismatch", None, "MSFT", "200", "150")]
    assert (_count(seeded, ReconRun), _count(seeded, CustodyPosition)) == (1, 4)  # replaced, not added


# ---- report execution ----

def _insert_gateway_fill(uow_factory: UowFactory, rfq_id: int, solver: str, side: str, price: str,
                         nbbo: tuple[str, str] | None, at: datetime) -> None:
    with uow_factory() as uow:
        uow.session.add(RfqRow(id=rfq_id, requester_session="REQ1", requester_account="REQ1", client_req_id=f"c{rfq_id}",
                            symbol="AAPL", side=side, quantity=Decimal(100), limit_price=None, state="filled",
                            mode=ExecutionMode.AWAIT_ACCEPT.value, origin=RfqOrigin.QUOTE_REQUEST.value,
                            created_at=at, submission_deadline=at, acceptance_deadline=at,
                            filled_quantity=Decimal(100), average_price=Decimal(price), updated_at=at))
        uow.session.flush()
        uow.session.add(QuoteRow(id=f"q{rfq_id}", rfq_id=rfq_id, solver_session=solver, solver_account=solver,
                              solver_quote_id=f"sq{rfq_id}", bid_price=Decimal(price), offer_price=Decimal(price),
                              bid_size=None, offer_size=None, valid_until=None, received_at=at, status="accepted",
                              sequence=rfq_id))
        uow.session.flush()
        uow.session.add(FillRow(rfq_id=rfq_id, quote_id=f"q{rfq_id}", exec_id=f"x{rfq_id}", last_price=Decimal(price),
                             last_quantity=Decimal(100), nbbo_bid=Decimal(nbbo[0]) if nbbo else None,
                             nbbo_offer=Decimal(nbbo[1]) if nbbo else None, created_at=at))
        uow.commit()


def _report(settings: Settings, *extra: str) -> tuple[int, str]:
    output = io.StringIO()
    args = _parse("report", "execution", *extra)
    return run_report(args, settings, stdout=output, clock=lambda: RUN_AT), output.getvalue()


def test_execution_report_table_and_html(settings: Settings, uow_factory: UowFactory, tmp_path: Path) -> None:
    nbbo = ("227.43", "227.44")
    _insert_venue_fills(uow_factory, [("E1", "AAPL", "buy", "100", "227.435"), ("E2", "AAPL", "sell", "100",
                                                                                "227.43")], nbbo=nbbo)
    _insert_gateway_fill(uow_factory, 1, "SOLVER1", "buy", "227.44", nbbo, T0)
    _insert_gateway_fill(uow_factory, 2, "SOLVER1", "sell", "227.42", nbbo, T0 + timedelta(hours=1))
    _insert_gateway_fill(uow_factory, 3, "BROKER", "buy", "227.45", None, T0 + timedelta(hours=2))
    # New York 20 November ends at 05:00 UTC on the 21st: this fill belongs to the next day.
    _insert_gateway_fill(uow_factory, 4, "SOLVER1", "buy", "227.00", nbbo, datetime(2026, 11, 21, 5, 0,
                                                                                    tzinfo=timezone.utc))
    html_path = tmp_path / "quality.html"
    exit_code, output = _report(settings, "--from", "2026-11-20", "--to", "2026-11-20", "--html", str(html_path))
    assert exit_code == 0
    sections = _sections(output)
    tiers = sections["Requester fills (settled by the gateway; measured on the requester's side): tiers"]
    venue = sections["Venue executions (the broker's orders at the venue; measured on the broker's side): tiers"]
    # SOLVER FILLS NO_NBBO AT_OR_BETTER_% SIGNIFICANT IMPROVED AT_NBBO VIOLATION AVG_IMPROVEMENT/SH
    assert venue["BROKER@venue"][1:9] == ["2", "0", "100", "0", "1", "1", "0", "0.0025"]
    assert venue["ALL_VENUE"][1:3] == ["2", "0"]
    assert tiers["SOLVER1"][1:9] == ["2", "0", "50", "0", "0", "1", "1", "-0.005"]
    assert tiers["BROKER"][1:4] == ["1", "1", "-"]
    assert tiers["ALL_REQUESTER"][1:4] == ["3", "1", "50"]  # never the venue's fills added in
    violations = sections[next(title for title in sections if title.startswith("Violations"))]
    assert [row[3] for row in violations.values()] == ["SOLVER1"]  # date time scope solver ...
    assert "1 of 5 fills have no NBBO at execution" in output
    page = html_path.read_text(encoding="utf-8")
    assert '<table id="requester-tiers">' in page and "<svg" in page
    assert "<td>BROKER@venue</td>" in page and "<td>SOLVER1</td>" in page


def _sections(output: str) -> dict[str, dict[str, list[str]]]:
    """title -> {first cell: the row's cells} of each table of the text report (blank-line separated)."""
    sections: dict[str, dict[str, list[str]]] = {}
    for block in output.split("\n\n")[1:]:
        title, *lines = block.splitlines()
        if lines and lines[0].split()[:1] in (["SOLVER"], ["EXECUTED_NY"]):
            sections[title] = {line.split()[0] + str(index): line.split() for index, line in enumerate(lines[1:])}
            if lines[0].startswith("SOLVER"):
                sections[title] = {line.split()[0]: line.split() for line in lines[1:]}
    return sections


def test_execution_report_refuses_a_reversed_range(settings: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert _report(settings, "--from", "2026-11-21", "--to", "2026-11-20") == (2, "")
    assert "is after --to" in capsys.readouterr().err
