"""Proof of reserves: Merkle-sum trees (hypothesis), the stored runs and the CLI's verify."""
from __future__ import annotations

import argparse
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.equity import LENDING_POOL_OWNER, USDC_BORROW
from ledger.merkle_sum import InclusionProof, MerkleSumTree, Sibling, verify_proof
from ops.reserves import proofs_for, publish, run_reserves, verify_document

NOW = datetime(2026, 11, 2, 15, 0, tzinfo=UTC)
balances = st.dictionaries(st.text("abcdefgh", min_size=1, max_size=6),
                           st.decimals(min_value=Decimal(0), max_value=Decimal("1e15"), places=6),
                           min_size=1, max_size=40)


@given(balances)
def test_every_account_has_a_proof_that_verifies_and_the_root_sums_the_liabilities(book):
    tree = MerkleSumTree("7", "USDC", book)
    assert tree.root[1] == sum(book.values(), Decimal(0))
    for account in book:
        proof = tree.proof(account)
        assert verify_proof(proof, expected_root=tree.root) == []
        assert verify_proof(InclusionProof.from_json(json.loads(json.dumps(proof.to_json())))) == []


@given(balances, st.data())
def test_a_proof_fails_for_any_altered_balance(book, data):
    tree = MerkleSumTree("7", "USDC", book)
    account = data.draw(st.sampled_from(sorted(book)))
    delta = data.draw(st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e6"), places=6).filter(
        lambda value: value != 0))
    proof = tree.proof(account)
    altered = replace(proof, balance=proof.balance + delta)
    assert verify_proof(altered) != []
    # Also moving the root's sum with it does not help: the hashes commit to every sum.
    assert verify_proof(replace(altered, root_sum=proof.root_sum + delta)) != []
    assert verify_proof(replace(proof, account=account + "x")) != []


def test_a_negative_sibling_is_refused_even_when_the_hashes_agree():
    tree = MerkleSumTree("1", "AAPL", {"alice": Decimal(5), "bob": Decimal(3)})
    proof = tree.proof("alice")
    assert verify_proof(proof) == []
    forged = replace(proof, siblings=(Sibling(proof.siblings[0].hash, Decimal(-3), False),))
    assert any("negative" in problem for problem in verify_proof(forged))
    with pytest.raises(ValueError):
        MerkleSumTree("1", "AAPL", {"alice": Decimal(-1)})


def test_runs_are_stored_and_proofs_come_from_the_stored_leaves(uow_factory):
    with uow_factory() as uow:
        ledger = uow.ledger
        ledger.deposit("alice", "USDC", Decimal("100.50"), "a")
        ledger.deposit("bob", "USDC", Decimal("20"), "b")
        ledger.deposit("alice", "AAPL", Decimal("3"), "c")
        ledger.deposit("usdc_reserve", "USDC", Decimal("1000"), "r")
        ledger.deposit(LENDING_POOL_OWNER, USDC_BORROW, Decimal("50"), "p")
        run_id, results = publish(uow.session, "usdc_reserve", "BROKER", NOW)
        uow.commit()
    by_asset = {result.asset: result for result in results}
    assert set(by_asset) == {"USDC", "AAPL"}
    assert by_asset["USDC"].liabilities == Decimal("120.50") and by_asset["USDC"].reserves == Decimal(1000)
    assert by_asset["USDC"].covered and not by_asset["AAPL"].covered  # no custody report yet
    with uow_factory() as uow:
        uow.ledger.deposit("alice", "USDC", Decimal("1"), "later")  # after the run: the proof is of the run
        uow.commit()
        proofs = proofs_for(uow.session, "alice")
    assert {proof.asset for proof in proofs} == {"USDC", "AAPL"}
    assert [proof.balance for proof in proofs if proof.asset == "USDC"] == [Decimal("100.50")]
    assert all(proof.root_hash == by_asset[proof.asset].root_hash for proof in proofs)
    document = {"account": "alice", "proofs": [proof.to_json() for proof in proofs]}
    assert verify_document(document) == []
    document["proofs"][0]["balance"] = "100.51"
    assert verify_document(document) != []
    assert run_id >= 1


def test_verify_needs_no_database(tmp_path):
    tree = MerkleSumTree("3", "USDC", {"alice": Decimal(1), "bob": Decimal(2), "carol": Decimal(4)})
    path = tmp_path / "proof.json"
    path.write_text(json.dumps({"account": "bob", "proofs": [tree.proof("bob").to_json()]}))
    output = io.StringIO()
    arguments = argparse.Namespace(reserves_command="verify", file=str(path))
    assert run_reserves(arguments, settings=None, now=NOW, output=output) == 0  # type: ignore[arg-type]
    assert output.getvalue().startswith("OK")
    path.write_text(json.dumps({"account": "bob", "proofs": [{**tree.proof("bob").to_json(), "balance": "3"}]}))
    assert run_reserves(arguments, settings=None, now=NOW, output=io.StringIO()) == 2  # type: ignore[arg-type]
