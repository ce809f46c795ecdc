"""Stocks as collateral: haircut weights, collateral value, IMF/MMF and liquidation sizing (pure).

Formulas (README "Collateral and margin"):

  notional_a      = quantity_a x mark_a                       (USDC; USDC's mark is 1)
  weight_a(N)     = min(base_weight_a, k_a / (1 + imf_factor_a x sqrt(N)))
  collateral      = usdc + usdc_lent + sum_a notional_a x weight_a(notional_a)
  liabilities     = borrowed USDC (the account's USDC_BORROW balance)
  margin_fraction = (collateral - liabilities) / liabilities  (None: nothing borrowed)
  entry allowed   when margin_fraction >= IMF after the trade (collateral >= liabilities x (1 + IMF))
  liquidation     when margin_fraction <  MMF               (collateral <  liabilities x (1 + MMF))

Why the inverse-square-root curve: a large position cannot be sold at the mark; its market impact
grows roughly with the square root of the size sold (the "square-root law" of impact), so the
share of its value we can count on falls as 1 / (1 + c x sqrt(N)). Small positions keep the flat
base weight; the curve only bites past the notional where it drops below it.

Every amount is Decimal. Products and sums are exact (the 80-digit exact context raises rather
than round); only the square root is rounded, and the weight is then rounded *down* to
WEIGHT_PLACES digits, so rounding only ever makes collateral smaller (conservative).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_FLOOR, Context, Decimal, localcontext

from core.money import CENT, EXACT_CONTEXT

__all__ = [
    "USDC_LEND", "WEIGHT_QUANTUM", "AccountMargin", "AccountSnapshot", "AssetMargin", "LiquidationOrder",
    "MarginParameters", "PositionValue", "after_buy", "assess", "liquidation_order", "max_borrow_at",
    "weight",
]

USDC_LEND = "USDC_LEND"  # USDC the account has lent to the lending pool (redeemable, weight 1)
WEIGHT_PLACES = 6
WEIGHT_QUANTUM = Decimal(1).scaleb(-WEIGHT_PLACES)
_SQRT_CONTEXT = Context(prec=40)
ZERO = Decimal(0)
ONE = Decimal(1)


@dataclass(frozen=True)
class AssetMargin:
    """One collateral asset's haircut curve and its margin fractions."""

    base_weight: Decimal = Decimal("0.80")
    k: Decimal = Decimal(1)
    imf_factor: Decimal = Decimal("0.0005")
    imf: Decimal = Decimal("0.20")
    mmf: Decimal = Decimal("0.10")

    def __post_init__(self) -> None:
        if not (ZERO <= self.base_weight <= ONE and self.k > 0 and self.imf_factor >= 0):
            raise ValueError(f"invalid haircut curve {self}")
        if not ZERO <= self.mmf < self.imf:
            raise ValueError(f"need 0 <= mmf < imf, got mmf={self.mmf} imf={self.imf}")


@dataclass(frozen=True)
class MarginParameters:
    """Per-asset curves (unknown assets use `default_asset`) and per-account IMF/MMF overrides."""

    default_asset: AssetMargin = AssetMargin()
    assets: Mapping[str, AssetMargin] = field(default_factory=dict)
    account_imf: Mapping[str, Decimal] = field(default_factory=dict)
    account_mmf: Mapping[str, Decimal] = field(default_factory=dict)

    def asset(self, symbol: str) -> AssetMargin:
        return self.assets.get(symbol, self.default_asset)

    def fractions(self, account: str, symbols: frozenset[str]) -> tuple[Decimal, Decimal]:
        """(IMF, MMF) of an account: its override, else the strictest of the assets it holds."""
        held = [self.asset(symbol) for symbol in sorted(symbols)] or [self.default_asset]
        imf = self.account_imf.get(account, max(asset.imf for asset in held))
        mmf = self.account_mmf.get(account, max(asset.mmf for asset in held))
        return imf, mmf


def weight(notional: Decimal, asset: AssetMargin) -> Decimal:
    """min(base_weight, k / (1 + imf_factor x sqrt(notional))), rounded down to WEIGHT_PLACES."""
    if notional < 0:
        raise ValueError(f"notional must not be negative, got {notional}")
    with localcontext(_SQRT_CONTEXT):
        curve = asset.k / (1 + asset.imf_factor * notional.sqrt())
        return min(asset.base_weight, curve).quantize(WEIGHT_QUANTUM, rounding=ROUND_FLOOR)


@dataclass(frozen=True)
class AccountSnapshot:
    """What an account holds (available + locked), as the ledger says."""

    account: str
    usdc: Decimal = ZERO
    usdc_lent: Decimal = ZERO
    borrowed: Decimal = ZERO
    positions: Mapping[str, Decimal] = field(default_factory=dict)  # symbol -> shares


@dataclass(frozen=True)
class PositionValue:
    symbol: str
    quantity: Decimal
    mark: Decimal
    notional: Decimal
    weight: Decimal
    collateral: Decimal
    mmf: Decimal


@dataclass(frozen=True)
class AccountMargin:
    account: str
    positions: tuple[PositionValue, ...]
    cash: Decimal  # usdc + usdc_lent, weight 1
    collateral: Decimal
    liabilities: Decimal
    imf: Decimal
    mmf: Decimal

    @property
    def margin_fraction(self) -> Decimal | None:
        if self.liabilities <= 0:
            return None
        with localcontext(Context(prec=28, rounding=ROUND_FLOOR)):
            return (self.collateral - self.liabilities) / self.liabilities

    def meets(self, fraction: Decimal) -> bool:
        """collateral >= liabilities x (1 + fraction), exactly."""
        with localcontext(EXACT_CONTEXT):
            return self.collateral >= self.liabilities * (1 + fraction)

    @property
    def below_maintenance(self) -> bool:
        return not self.meets(self.mmf)

    @property
    def shortfall(self) -> Decimal:
        """USDC of collateral missing to stand at MMF (0 when at or above it)."""
        with localcontext(EXACT_CONTEXT):
            return max(ZERO, self.liabilities * (1 + self.mmf) - self.collateral)

    @property
    def distance_to_liquidation(self) -> Decimal:
        """Weighted collateral the account can lose before it falls below MMF (0 when below)."""
        with localcontext(EXACT_CONTEXT):
            return max(ZERO, self.collateral - self.liabilities * (1 + self.mmf))


def assess(snapshot: AccountSnapshot, marks: Mapping[str, Decimal], parameters: MarginParameters) -> AccountMargin:
    """Collateral, liabilities and fractions of one account at these marks.

    A position without a mark counts zero collateral (it cannot be valued, so it cannot be lent on)."""
    values: list[PositionValue] = []
    with localcontext(EXACT_CONTEXT):
        for symbol in sorted(snapshot.positions):
            quantity = snapshot.positions[symbol]
            mark = marks.get(symbol)
            if quantity <= 0 or mark is None:
                continue
            terms = parameters.asset(symbol)
            notional = quantity * mark
            asset_weight = weight(notional, terms)
            values.append(PositionValue(symbol, quantity, mark, notional, asset_weight, notional * asset_weight,
                                        terms.mmf))
        cash = snapshot.usdc + snapshot.usdc_lent
        collateral = cash + sum((value.collateral for value in values), ZERO)
    held = frozenset(value.symbol for value in values)
    imf, mmf = parameters.fractions(snapshot.account, held)
    return AccountMargin(snapshot.account, tuple(values), cash, collateral, snapshot.borrowed, imf, mmf)


def after_buy(snapshot: AccountSnapshot, symbol: str, quantity: Decimal, cost: Decimal) -> AccountSnapshot:
    """The account after buying `quantity` for `cost` USDC: cash first, then lends, the rest borrowed."""
    with localcontext(EXACT_CONTEXT):
        from_cash = min(cost, max(ZERO, snapshot.usdc))
        from_lends = min(cost - from_cash, max(ZERO, snapshot.usdc_lent))
        borrowed = cost - from_cash - from_lends
        positions = dict(snapshot.positions)
        positions[symbol] = positions.get(symbol, ZERO) + quantity
        return replace(snapshot, usdc=snapshot.usdc - from_cash, usdc_lent=snapshot.usdc_lent - from_lends,
                       borrowed=snapshot.borrowed + borrowed, positions=positions)


def max_borrow_at(margin: AccountMargin, fraction: Decimal) -> Decimal:
    """The most the account may owe in all, in whole cents, for its collateral to stand at `fraction`."""
    with localcontext(Context(prec=80, rounding=ROUND_FLOOR)):
        return max(ZERO, margin.collateral / (1 + fraction)).quantize(CENT, rounding=ROUND_FLOOR)


@dataclass(frozen=True)
class LiquidationOrder:
    """A CollateralConversion: sell `quantity` of `symbol`, no lower than `limit_price`."""

    account: str
    symbol: str
    quantity: Decimal
    mark: Decimal
    limit_price: Decimal
    notional: Decimal
    shortfall: Decimal


def liquidation_order(margin: AccountMargin, buffer: Decimal, price_band: Decimal,
                      lot: Decimal = ONE) -> LiquidationOrder | None:
    """What to sell to bring a below-MMF account back above it, or None if nothing is needed or sellable.

    Collateral is sold in MMF priority order (the riskiest asset, highest MMF, first; then the
    largest position). The price bound is L = mark x (1 - price_band), rounded up to a cent.
    Selling S shares at worst at L, the proceeds repaying the borrow, moves
    collateral - liabilities x (1 + MMF) up by S x (L x (1 + MMF) - mark x w) (w only rises as the
    position shrinks), so S = shortfall / (L x (1 + MMF) - mark x w), plus `buffer` of it, in whole
    lots, at most the position. The quote quantity is this notional converted to shares at the mark."""
    if not margin.below_maintenance or not margin.positions:
        return None
    position = sorted(margin.positions, key=lambda value: (-value.mmf, -value.notional, value.symbol))[0]
    with localcontext(Context(prec=80, rounding=ROUND_CEILING)):
        limit_price = (position.mark * (1 - price_band)).quantize(CENT, rounding=ROUND_CEILING)
        gain_per_share = limit_price * (1 + margin.mmf) - position.mark * position.weight
        if gain_per_share <= 0:
            quantity = position.quantity
        else:
            lots = (margin.shortfall / gain_per_share * (1 + buffer) / lot).to_integral_value(rounding=ROUND_CEILING)
            quantity = min(position.quantity, lots * lot)
    if quantity <= 0:
        return None
    with localcontext(EXACT_CONTEXT):
        notional = quantity * position.mark
    return LiquidationOrder(margin.account, position.symbol, quantity, position.mark, limit_price, notional,
                            margin.shortfall)

