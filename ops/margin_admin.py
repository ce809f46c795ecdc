"""`rfq-gateway admin margin ACCOUNT` and `admin liquidations`: an account's collateral, weights,
liabilities, margin fraction, IMF/MMF and distance to liquidation; the collateral conversions the
margin monitor opened (escalated ones first: those need an operator)."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import TYPE_CHECKING

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from core.money import canonical_decimal_text
from gateway.liquidation_models import LIQUIDATION_STATUSES, LiquidationRow
from ledger.ledger import Ledger
from ledger.lending import snapshot_of
from ledger.margin import AccountMargin, assess
from venue_sim.store import PriceBoard, store_path

if TYPE_CHECKING:
    from app.settings import Settings

VENUE_PRICE_MAX_AGE_S = 5.0
Marks = Callable[[str], tuple[Decimal, str] | None]


def settings_marks(settings: Settings) -> Marks:
    """The venue's NBBO mid when it published one lately, else the configured last close."""
    board = PriceBoard(store_path(settings.resolved_data_dir()), VENUE_PRICE_MAX_AGE_S)
    closes = {instrument.symbol: instrument.reference_price for instrument in settings.instruments}

    def mark(symbol: str) -> tuple[Decimal, str] | None:
        nbbo = board.reference(symbol)
        if nbbo is not None:
            return (nbbo[0] + nbbo[1]) / 2, "nbbo mid"
        close = closes.get(symbol)
        return (close, "last close") if close is not None else None

    return mark


def _money(value: Decimal) -> str:
    return canonical_decimal_text(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def margin_lines(session: Session, settings: Settings, account: str, marks: Marks,
                 render_table: Callable[..., list[str]]) -> list[str]:
    snapshot = snapshot_of(Ledger(session), account)
    found = {symbol: marks(symbol) for symbol in snapshot.positions}
    prices = {symbol: value[0] for symbol, value in found.items() if value is not None}
    margin = assess(snapshot, prices, settings.margin.parameters())
    rows = [[value.symbol, canonical_decimal_text(value.quantity), canonical_decimal_text(value.mark),
             (found[value.symbol] or (0, "-"))[1], _money(value.notional), canonical_decimal_text(value.weight),
             _money(value.collateral), canonical_decimal_text(value.mmf)] for value in margin.positions]
    rows += [[symbol, canonical_decimal_text(quantity), "-", "no mark", "-", "0", "0", "-"]
             for symbol, quantity in sorted(snapshot.positions.items()) if symbol not in prices]
    rows.append(["USDC (+ lent)", canonical_decimal_text(margin.cash), "1", "par", _money(margin.cash), "1",
                 _money(margin.cash), "-"])
    return [f"account {account}", *render_table(
        ["ASSET", "QUANTITY", "MARK", "SOURCE", "NOTIONAL", "WEIGHT", "COLLATERAL", "MMF"], rows,
        frozenset({1, 2, 4, 5, 6, 7})), *summary_lines(margin)]


def summary_lines(margin: AccountMargin) -> list[str]:
    fraction = margin.margin_fraction
    state = "BELOW MMF: liquidation" if margin.below_maintenance else (
        "above IMF" if margin.meets(margin.imf) else "between MMF and IMF: no new borrowing")
    return [
        f"collateral (weighted)   {_money(margin.collateral)} USDC",
        f"liabilities (borrowed)  {_money(margin.liabilities)} USDC",
        f"margin fraction         {'-' if fraction is None else f'{fraction:.4f}'}",
        f"IMF / MMF               {margin.imf} / {margin.mmf}",
        f"distance to liquidation {_money(margin.distance_to_liquidation)} USDC of weighted collateral "
        f"({state})",
    ]


def liquidation_lines(session: Session, status: str | None, limit: int,
                      render_table: Callable[..., list[str]]) -> list[str]:
    statement = select(LiquidationRow)
    if status is not None:
        statement = statement.where(LiquidationRow.status == status)
    escalated_first = case((LiquidationRow.status == "escalated", 0), else_=1)
    rows: Sequence[LiquidationRow] = session.scalars(
        statement.order_by(escalated_first, LiquidationRow.id.desc()).limit(limit)).all()
    if not rows:
        return ["no liquidations"]
    table = [[str(row.id), row.account, row.status, row.symbol, canonical_decimal_text(row.quantity),
              canonical_decimal_text(row.limit_price), _money(row.shortfall), str(row.attempts),
              str(row.rfq_id or "-"), row.next_attempt_at.isoformat(timespec="seconds") if row.next_attempt_at
              else "-", row.text or ""] for row in rows]
    return render_table(["ID", "ACCOUNT", "STATUS", "SYMBOL", "QTY", "LIMIT", "SHORTFALL", "ATTEMPTS", "RFQ",
                         "NEXT ATTEMPT", "TEXT"], table, frozenset({0, 4, 5, 6, 7}))


STATUS_CHOICES: tuple[str, ...] = LIQUIDATION_STATUSES
