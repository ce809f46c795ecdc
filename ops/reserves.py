"""Proof of reserves: per asset, user liabilities from the ledger against reserves, with a published
Merkle-sum root of the liabilities; `rfq-gateway reserves publish|proof|verify` (README "Proof of reserves").

Liabilities of an asset: every user account's balance (available + locked) -- house accounts, the
USDC reserve account and debts (USDC_BORROW) excluded. Reserves: for stocks, the latest custody
position of the custody account (recon's custody_positions, from the venue's position report);
for USDC, the balance of the USDC reserve account. Each run is stored with its leaves, so a proof
can be produced for any past run; `verify` needs only the proof file.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from core.money import CASH_ASSET, canonical_decimal_text
from db.engine import create_db_engine, session_factory, upgrade_to_head
from ledger.equity import HOUSE_OWNERS, USDC_BORROW
from ledger.merkle_sum import InclusionProof, MerkleSumTree, verify_proof
from ledger.models import LedgerAccount, OutboxRow
from ledger.models_reserves import ReserveAsset, ReserveLeaf, ReserveRun
from recon.models import CustodyPosition

if TYPE_CHECKING:
    from app.settings import Settings

EXIT_ERROR = 2
EXCLUDED_ASSETS = frozenset({USDC_BORROW})


@dataclass(frozen=True)
class AssetReserves:
    asset: str
    liabilities: Decimal
    reserves: Decimal
    root_hash: str
    accounts: int

    @property
    def covered(self) -> bool:
        return self.reserves >= self.liabilities


def user_liabilities(session: Session, reserve_owner: str) -> dict[str, dict[str, Decimal]]:
    """asset -> account -> balance, for every user account with a positive balance."""
    excluded_owners = HOUSE_OWNERS | {reserve_owner}
    result: dict[str, dict[str, Decimal]] = {}
    for row in session.scalars(select(LedgerAccount).order_by(LedgerAccount.id)):
        total = row.available + row.locked
        if row.owner in excluded_owners or row.asset in EXCLUDED_ASSETS or total <= 0:
            continue
        result.setdefault(row.asset, {})[row.owner] = total
    return result


def reserves_held(session: Session, reserve_owner: str, custody_account: str, assets: set[str]) -> dict[str, Decimal]:
    held: dict[str, Decimal] = {}
    for asset in sorted(assets):
        if asset == CASH_ASSET:
            row = session.scalars(select(LedgerAccount).where(LedgerAccount.owner == reserve_owner,
                                                              LedgerAccount.asset == CASH_ASSET)).one_or_none()
            held[asset] = row.available + row.locked if row is not None else Decimal(0)
            continue
        latest = session.scalars(
            select(CustodyPosition).where(CustodyPosition.account == custody_account, CustodyPosition.symbol == asset)
            .order_by(CustodyPosition.as_of.desc(), CustodyPosition.id.desc()).limit(1)).one_or_none()
        held[asset] = latest.quantity if latest is not None else Decimal(0)
    return held


def publish(session: Session, reserve_owner: str, custody_account: str, now: datetime,
            trigger: str = "cli") -> tuple[int, list[AssetReserves]]:
    """Compute, store (the caller commits) and return one run."""
    liabilities = user_liabilities(session, reserve_owner)
    run = ReserveRun(run_at=now, trigger=trigger)
    session.add(run)
    session.flush()
    held = reserves_held(session, reserve_owner, custody_account, set(liabilities))
    results: list[AssetReserves] = []
    for asset in sorted(liabilities):
        tree = MerkleSumTree(str(run.id), asset, liabilities[asset])
        root_hash, total = tree.root
        results.append(AssetReserves(asset, total, held[asset], root_hash, len(liabilities[asset])))
        session.add(ReserveAsset(run_id=run.id, asset=asset, liabilities=total, reserves=held[asset],
                                 root_hash=root_hash, accounts=len(liabilities[asset])))
        session.add_all(ReserveLeaf(run_id=run.id, asset=asset, account=account, balance=balance)
                        for account, balance in liabilities[asset].items())
    session.add(OutboxRow(rfq_id=None, event_type="ReservesPublished", occurred_at=now, payload=json.dumps({
        "run": run.id, "assets": [{"asset": r.asset, "liabilities": canonical_decimal_text(r.liabilities),
                                   "reserves": canonical_decimal_text(r.reserves), "root": r.root_hash}
                                  for r in results]})))
    session.flush()
    return run.id, results


def proofs_for(session: Session, account: str, run_id: int | None = None) -> list[InclusionProof]:
    """The account's inclusion proofs in a run (default: the latest), one per asset it holds."""
    if run_id is None:
        run_id = session.scalar(select(func.max(ReserveRun.id)))
        if run_id is None:
            return []
    assets = session.scalars(select(ReserveLeaf.asset).where(ReserveLeaf.run_id == run_id,
                                                             ReserveLeaf.account == account)).all()
    proofs: list[InclusionProof] = []
    for asset in sorted(assets):
        leaves = session.execute(select(ReserveLeaf.account, ReserveLeaf.balance)
                                 .where(ReserveLeaf.run_id == run_id, ReserveLeaf.asset == asset)).all()
        tree = MerkleSumTree(str(run_id), asset, {row.account: row.balance for row in leaves})
        proofs.append(tree.proof(account))
    return proofs


def verify_document(document: Mapping[str, object]) -> list[str]:
    """Problems with a `reserves proof` document (empty: every proof in it verifies)."""
    proofs = document.get("proofs")
    if not isinstance(proofs, list) or not proofs:
        return ["no proofs in the document"]
    problems: list[str] = []
    for data in proofs:
        try:
            proof = InclusionProof.from_json(data)
        except ValueError as error:
            problems.append(str(error))
            continue
        problems.extend(f"{proof.asset}: {problem}" for problem in verify_proof(proof))
    return problems


# ----------------------------------------------------------------------------------- the CLI

def add_reserves_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = commands.add_parser("reserves", help="proof of reserves: publish a run, print or verify a proof")
    sub = parser.add_subparsers(dest="reserves_command", required=True)
    sub.add_parser("publish", help="compute liabilities and reserves now, store the run, print the roots")
    proof = sub.add_parser("proof", help="print an account's inclusion proofs (JSON) for the latest run")
    proof.add_argument("account")
    proof.add_argument("--run", type=int, default=None, help="a past run's id")
    verify = sub.add_parser("verify", help="check a proof file (no database needed)")
    verify.add_argument("file", help="the JSON printed by `reserves proof` ('-': standard input)")


def run_reserves(arguments: argparse.Namespace, settings: Settings, now: datetime,
                 output: TextIO = sys.stdout) -> int:
    if arguments.reserves_command == "verify":
        text = sys.stdin.read() if arguments.file == "-" else Path(arguments.file).read_text()
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            print(f"not a proof document: {error}", file=output)
            return EXIT_ERROR
        problems = verify_document(document) if isinstance(document, dict) else ["not a proof document"]
        for problem in problems:
            print(f"FAILED: {problem}", file=output)
        if not problems:
            print(f"OK: {len(document['proofs'])} proof(s) verify against their roots", file=output)
        return EXIT_ERROR if problems else 0
    url = settings.resolved_database_url()
    upgrade_to_head(url)
    engine = create_db_engine(url)
    try:
        with session_factory(engine)() as session:
            if arguments.reserves_command == "publish":
                return _print_publish(session, settings, now, output)
            proofs = proofs_for(session, arguments.account, arguments.run)
    finally:
        engine.dispose()
    if not proofs:
        print(f"no balances of {arguments.account} in that run (publish one first)", file=sys.stderr)
        return EXIT_ERROR
    print(json.dumps({"account": arguments.account, "proofs": [p.to_json() for p in proofs]}, indent=2), file=output)
    return 0


def _print_publish(session: Session, settings: Settings, now: datetime, output: TextIO) -> int:
    run_id, results = publish(session, settings.reserves.usdc_reserve_account, settings.reserves.custody_account,
                              now)
    session.commit()
    print(f"reserves run {run_id} at {now.isoformat()}", file=output)
    print(f"{'asset':<8} {'liabilities':>20} {'reserves':>20} {'accounts':>8}  covered  root", file=output)
    for result in results:
        print(f"{result.asset:<8} {canonical_decimal_text(result.liabilities):>20} "
              f"{canonical_decimal_text(result.reserves):>20} {result.accounts:>8}  "
              f"{'yes' if result.covered else 'NO ':<7}  {result.root_hash}", file=output)
    return 0
