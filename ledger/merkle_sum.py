"""Merkle-sum trees for proof of reserves: every node carries a hash and the sum of the balances below it.

  leaf  = (H("leaf" | run | asset | account | balance), balance)
  node  = (H("node" | left.hash | left.sum | right.hash | right.sum), left.sum + right.sum)
  pad   = (H("pad" | run | asset | position), 0)   -- levels with an odd count are padded

The root (hash, total) is published per asset and run: total is the user liabilities of that
asset. An inclusion proof is the leaf's siblings from the bottom up; verifying it recomputes the
root from the account's balance alone (no database). Sums are canonical Decimal text, so the
arithmetic is exact; a sibling with a negative sum is refused, which is what stops an exchange
from hiding a liability by pairing it with an invented negative one.
"""
from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from core.money import EXACT_CONTEXT, canonical_decimal_text

__all__ = ["InclusionProof", "MerkleSumTree", "Sibling", "verify_proof"]

ZERO = Decimal(0)


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def leaf_hash(run: str, asset: str, account: str, balance: Decimal) -> str:
    return _digest("leaf", run, asset, account, canonical_decimal_text(balance))


def node_hash(left: tuple[str, Decimal], right: tuple[str, Decimal]) -> str:
    return _digest("node", left[0], canonical_decimal_text(left[1]), right[0], canonical_decimal_text(right[1]))


def _add(first: Decimal, second: Decimal) -> Decimal:
    with localcontext(EXACT_CONTEXT):
        return first + second


@dataclass(frozen=True)
class Sibling:
    hash: str
    sum: Decimal
    on_left: bool  # the sibling is the left child (the path's node is the right one)


@dataclass(frozen=True)
class InclusionProof:
    run: str
    asset: str
    account: str
    balance: Decimal
    siblings: tuple[Sibling, ...]
    root_hash: str
    root_sum: Decimal

    def to_json(self) -> dict[str, object]:
        return {
            "run": self.run, "asset": self.asset, "account": self.account,
            "balance": canonical_decimal_text(self.balance),
            "siblings": [{"hash": s.hash, "sum": canonical_decimal_text(s.sum), "side": "left" if s.on_left
                          else "right"} for s in self.siblings],
            "root": {"hash": self.root_hash, "sum": canonical_decimal_text(self.root_sum)},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> InclusionProof:
        """Raises ValueError (KeyError, TypeError, InvalidOperation included) for a malformed proof."""
        try:
            siblings_data = data["siblings"]
            root = data["root"]
            if not isinstance(siblings_data, list) or not isinstance(root, dict):
                raise ValueError("siblings must be a list and root an object")
            siblings = tuple(Sibling(str(s["hash"]), Decimal(str(s["sum"])), s["side"] == "left")
                             for s in siblings_data)
            return cls(str(data["run"]), str(data["asset"]), str(data["account"]), Decimal(str(data["balance"])),
                       siblings, str(root["hash"]), Decimal(str(root["sum"])))
        except (KeyError, TypeError, InvalidOperation) as error:
            raise ValueError(f"malformed proof: {error!r}") from None


class MerkleSumTree:
    """Built once from (account, balance) leaves, sorted by account for a reproducible tree."""

    def __init__(self, run: str, asset: str, balances: Mapping[str, Decimal]) -> None:
        if any(balance < 0 for balance in balances.values()):
            raise ValueError(f"{asset}: a liability tree has no negative balances")
        self.run, self.asset = run, asset
        self.accounts = sorted(balances)
        self._index = {account: position for position, account in enumerate(self.accounts)}
        leaves = [(leaf_hash(run, asset, account, balances[account]), balances[account]) for account in self.accounts]
        if not leaves:
            leaves = [(_digest("pad", run, asset, "0"), ZERO)]
        self.levels: list[list[tuple[str, Decimal]]] = [leaves]
        while len(self.levels[-1]) > 1:
            level = list(self.levels[-1])
            if len(level) % 2:
                level.append((_digest("pad", run, asset, str(len(self.levels)), str(len(level))), ZERO))
                self.levels[-1] = level
            self.levels.append([(node_hash(level[i], level[i + 1]), _add(level[i][1], level[i + 1][1]))
                                for i in range(0, len(level), 2)])

    @property
    def root(self) -> tuple[str, Decimal]:
        return self.levels[-1][0]

    def proof(self, account: str) -> InclusionProof:
        position = self._index.get(account)
        if position is None:
            raise KeyError(f"{account} has no {self.asset} balance in run {self.run}")
        balance = self.levels[0][position][1]
        siblings: list[Sibling] = []
        for level in self.levels[:-1]:
            partner = position ^ 1
            siblings.append(Sibling(level[partner][0], level[partner][1], on_left=partner < position))
            position //= 2
        root_hash, root_sum = self.root
        return InclusionProof(self.run, self.asset, account, balance, tuple(siblings), root_hash, root_sum)


def verify_proof(proof: InclusionProof, expected_root: tuple[str, Decimal] | None = None) -> list[str]:
    """Problems with a proof (empty: it verifies). `expected_root`: the published root, when the
    caller has it from elsewhere than the proof itself."""
    problems: list[str] = []
    if proof.balance < 0:
        problems.append("the balance is negative")
    node = (leaf_hash(proof.run, proof.asset, proof.account, proof.balance), proof.balance)
    for depth, sibling in enumerate(proof.siblings):
        if sibling.sum < 0:
            problems.append(f"sibling at depth {depth} has a negative sum {sibling.sum}")
        pair: Sequence[tuple[str, Decimal]] = ((sibling.hash, sibling.sum), node) if sibling.on_left else \
            (node, (sibling.hash, sibling.sum))
        node = (node_hash(pair[0], pair[1]), _add(sibling.sum, node[1]))
    if node != (proof.root_hash, proof.root_sum):
        problems.append(f"recomputed root {node[0]} / {canonical_decimal_text(node[1])} does not match "
                        f"the proof's root {proof.root_hash} / {canonical_decimal_text(proof.root_sum)}")
    if expected_root is not None and (proof.root_hash, proof.root_sum) != expected_root:
        problems.append("the proof's root is not the published root")
    return problems
