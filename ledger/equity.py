"""Post-trade equity settlement (the seed's handle_settle_equity) composed from ledger transfers.

Sign convention of `unsettled_equity` (USDC, whole cents):
  * < 0: the account owes the exchange |unsettled_equity|. Its available USDC is drained to the
    exchange first; the rest is borrowed from the lending pool (within the account's borrow limit
    and the pool's liquidity) and paid on to the exchange. Whatever is left is the shortfall.
  * > 0: the exchange owes the account. The liquidity fund pays min(owed, fund's available USDC);
    whatever is left is still owed (`remaining_usdc`).
  * == 0: nothing to do.

A borrow is two entries: the pool's USDC to the account, and the same amount of USDC_BORROW from
the pool to the account. The account's USDC_BORROW balance is its debt (`outstanding_borrow`);
the pool's is its unused lending capacity, funded together with its USDC by `fund_lending_pool`.
So every balance outside `external` stays non-negative and each asset still sums to zero.

Each step is its own idempotent transfer keyed `<idempotency_key>:<step>`, written in the
caller's transaction; the step descriptions record the call's inputs so that a retry with the
same key returns the recorded result (and writes nothing) and a reuse with other inputs is refused.
Limitation: a settlement that moves nothing writes no entry, so it leaves no trace; a retry of it
is evaluated afresh against the balances of that moment (there is no table to record it in).
"""
from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Context, Decimal, InvalidOperation, Overflow, localcontext

import structlog

from core.money import EXACT_CONTEXT, canonical_decimal, canonical_decimal_text, storable_decimal_problem
from ledger.errors import IdempotencyConflict, InvalidAccount, InvalidAmount
from ledger.ledger import EXTERNAL_OWNER, Ledger, RecordedEntry
from ledger.models_equity import EquitySettlementRecord
from ledger.postings import require_text
from ledger.views import AVAILABLE

__all__ = [
    "BORROW", "BORROW_LIABILITY", "DRAIN", "DRAW", "EXCHANGE_OWNER", "LENDING_POOL_OWNER", "LIQUIDITY_FUND_OWNER",
    "MAX_IDEMPOTENCY_KEY_LENGTH", "PAY_BORROWED", "USDC", "USDC_BORROW",
    "EquitySettlement", "SettlementBalances", "SettlementStep", "StepAmounts",
    "fund_lending_pool", "outstanding_borrow", "plan_step_amounts", "settle_equity",
]

log = structlog.get_logger(__name__)

USDC = "USDC"
USDC_BORROW = "USDC_BORROW"
EXCHANGE_OWNER = "exchange"
LENDING_POOL_OWNER = "lending_pool"
LIQUIDITY_FUND_OWNER = "liquidity_fund"
HOUSE_OWNERS = frozenset({EXTERNAL_OWNER, EXCHANGE_OWNER, LENDING_POOL_OWNER, LIQUIDITY_FUND_OWNER})

CENT = Decimal("0.01")
CENT_EXPONENT = -2

DRAIN = "drain"
BORROW = "borrow"
BORROW_LIABILITY = "borrow_liability"
PAY_BORROWED = "pay_borrowed"
DRAW = "draw"
STEP_ORDER = (DRAIN, BORROW, BORROW_LIABILITY, PAY_BORROWED, DRAW)
BORROW_STEPS = (BORROW, BORROW_LIABILITY, PAY_BORROWED)

LEDGER_KEY_MAX_LENGTH = 128
LEDGER_DESCRIPTION_MAX_LENGTH = 256
MAX_IDEMPOTENCY_KEY_LENGTH = LEDGER_KEY_MAX_LENGTH - max(len(f":{step}") for step in STEP_ORDER)

# Balances may hold sub-cent dust (the ledger keeps 12 fraction digits); settlement moves whole
# cents only, so spendable balances are floored explicitly here and the dust stays where it is.
_FLOOR_CONTEXT = Context(prec=80, rounding=ROUND_FLOOR, traps=[InvalidOperation, Overflow])


@dataclass(frozen=True)
class SettlementStep:
    name: str
    from_owner: str
    to_owner: str
    asset: str
    amount: Decimal
    entry_id: int


@dataclass(frozen=True)
class EquitySettlement:
    """What one settle_equity call did. Amounts are USDC in whole cents, never negative.

    Account owes: drained_usdc + borrowed_usdc + shortfall_usdc == -unsettled_equity.
    Exchange owes: drawn_usdc + remaining_usdc == unsettled_equity.
    """

    account: str
    unsettled_equity: Decimal
    borrow_limit: Decimal
    drained_usdc: Decimal
    borrowed_usdc: Decimal
    shortfall_usdc: Decimal
    drawn_usdc: Decimal
    remaining_usdc: Decimal
    steps: tuple[SettlementStep, ...]


@dataclass(frozen=True)
class SettlementBalances:
    """Available balances a settlement plan depends on (missing accounts count as zero)."""

    account_usdc: Decimal
    outstanding_borrow: Decimal
    lending_pool_usdc: Decimal
    lending_pool_capacity: Decimal
    liquidity_fund_usdc: Decimal


@dataclass(frozen=True)
class StepAmounts:
    drained_usdc: Decimal
    borrowed_usdc: Decimal
    drawn_usdc: Decimal


# ------------------------------------------------------------------ public API


def settle_equity(
    ledger: Ledger, account: str, unsettled_equity: Decimal, borrow_limit: Decimal, idempotency_key: str
) -> EquitySettlement:
    """Settle `account`'s residual equity (sign convention in the module docstring).

    `borrow_limit` caps the account's total outstanding borrow (existing + new), not this call's.
    Raises InvalidAmount (not Decimal, not whole cents, negative limit, too large), InvalidAccount
    (a house owner), ValueError (key empty or longer than MAX_IDEMPOTENCY_KEY_LENGTH) and
    IdempotencyConflict (key recorded with other inputs) before writing anything. On any
    exception the caller must roll back (the unit of work does when left without commit).
    """
    _require_account(account)
    require_text("idempotency_key", idempotency_key, MAX_IDEMPOTENCY_KEY_LENGTH)
    unsettled_equity = _require_cents("unsettled_equity", unsettled_equity)
    borrow_limit = _require_cents("borrow_limit", borrow_limit)
    if borrow_limit < 0:
        raise InvalidAmount(f"borrow_limit must not be negative, got {borrow_limit}")
    call = _Call(account, unsettled_equity, borrow_limit, idempotency_key)
    # Checked before locking so a replay or a conflict creates no account rows, and again under
    # the locks because a concurrent call with the same key may have committed in between.
    replayed = _replay(ledger, call)
    if replayed is None:
        balances = _lock_balances(ledger, call)
        replayed = _replay(ledger, call)
    if replayed is None:
        replayed = _replay_recorded_call(ledger, call)
    if replayed is not None:
        log.info("equity_settlement_replay", account=account, idempotency_key=idempotency_key)
        return replayed
    amounts = plan_step_amounts(unsettled_equity, borrow_limit, balances)
    steps = tuple(_write_step(ledger, call, name, amount) for name, amount in _step_plan(amounts))
    settlement = _settlement(call, amounts, steps)
    _record_call(ledger, call, amounts)
    log.info(
        "equity_settled", account=account, idempotency_key=idempotency_key, unsettled_equity=str(unsettled_equity),
        drained_usdc=str(settlement.drained_usdc), borrowed_usdc=str(settlement.borrowed_usdc),
        shortfall_usdc=str(settlement.shortfall_usdc), drawn_usdc=str(settlement.drawn_usdc),
        remaining_usdc=str(settlement.remaining_usdc),
    )
    return settlement


def outstanding_borrow(ledger: Ledger, account: str) -> Decimal:
    """USDC the account has borrowed from the lending pool and not repaid."""
    _require_account(account)
    return ledger.balance(account, USDC_BORROW).available


def fund_lending_pool(ledger: Ledger, amount_usdc: Decimal, idempotency_key: str) -> tuple[int, int]:
    """Deposit USDC into the lending pool with the same amount of lending capacity (USDC_BORROW).

    Returns the two deposit entry ids. The liquidity fund needs no capacity: fund it with
    ledger.deposit(LIQUIDITY_FUND_OWNER, USDC, amount, key).
    """
    require_text("idempotency_key", idempotency_key, MAX_IDEMPOTENCY_KEY_LENGTH)
    cash_entry = ledger.deposit(LENDING_POOL_OWNER, USDC, amount_usdc, f"{idempotency_key}:usdc")
    capacity_entry = ledger.deposit(LENDING_POOL_OWNER, USDC_BORROW, amount_usdc, f"{idempotency_key}:capacity")
    return cash_entry, capacity_entry


def plan_step_amounts(
    unsettled_equity: Decimal, borrow_limit: Decimal, balances: SettlementBalances
) -> StepAmounts:
    """Pure planning: how much to drain, borrow and draw, in whole cents."""
    zero = Decimal(0)
    with localcontext(EXACT_CONTEXT):
        if unsettled_equity < 0:
            owed = -unsettled_equity
            drained = min(owed, _whole_cents_of(balances.account_usdc))
            headroom = _whole_cents_of(max(zero, borrow_limit - balances.outstanding_borrow))
            pool = min(_whole_cents_of(balances.lending_pool_usdc), _whole_cents_of(balances.lending_pool_capacity))
            borrowed = min(owed - drained, headroom, pool)
            amounts = StepAmounts(drained_usdc=drained, borrowed_usdc=borrowed, drawn_usdc=zero)
        elif unsettled_equity > 0:
            drawn = min(unsettled_equity, _whole_cents_of(balances.liquidity_fund_usdc))
            amounts = StepAmounts(drained_usdc=zero, borrowed_usdc=zero, drawn_usdc=drawn)
        else:
            amounts = StepAmounts(drained_usdc=zero, borrowed_usdc=zero, drawn_usdc=zero)
    for amount in (amounts.drained_usdc, amounts.borrowed_usdc, amounts.drawn_usdc):
        assert amount >= 0 and _is_whole_cents(amount), f"planned amount {amount} is not whole non-negative cents"
    return amounts


# ----------------------------------------------------------------- internals


@dataclass(frozen=True)
class _Call:
    account: str
    unsettled_equity: Decimal
    borrow_limit: Decimal
    idempotency_key: str

    def step_key(self, step: str) -> str:
        return f"{self.idempotency_key}:{step}"

    def description(self, step: str) -> str:
        # Records the inputs: a replay compares them to detect a key reused for another call.
        text = (
            f"settle_equity {step} for {self.account}: unsettled_equity="
            f"{canonical_decimal_text(self.unsettled_equity)} borrow_limit={canonical_decimal_text(self.borrow_limit)}"
        )
        assert len(text) <= LEDGER_DESCRIPTION_MAX_LENGTH, f"description too long: {text!r}"
        return text

    def route(self, step: str) -> tuple[str, str, str]:
        """(from_owner, to_owner, asset) of a step."""
        routes = {
            DRAIN: (self.account, EXCHANGE_OWNER, USDC),
            BORROW: (LENDING_POOL_OWNER, self.account, USDC),
            BORROW_LIABILITY: (LENDING_POOL_OWNER, self.account, USDC_BORROW),
            PAY_BORROWED: (self.account, EXCHANGE_OWNER, USDC),
            DRAW: (LIQUIDITY_FUND_OWNER, self.account, USDC),
        }
        return routes[step]


def _require_account(account: str) -> None:
    require_text("account", account, 64)
    if account in HOUSE_OWNERS:
        raise InvalidAccount(f"{account!r} is a house account and cannot settle equity")


def _is_whole_cents(value: Decimal) -> bool:
    exponent = canonical_decimal(value).as_tuple().exponent
    assert isinstance(exponent, int), f"{value} is not finite"
    return exponent >= CENT_EXPONENT


def _require_cents(name: str, value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal):
        raise InvalidAmount(f"{name} must be decimal.Decimal, got {type(value).__name__}")
    problem = storable_decimal_problem(value)
    if problem is not None:
        raise InvalidAmount(f"{name}: {problem}")
    if not _is_whole_cents(value):
        raise InvalidAmount(f"{name} must be a whole number of cents, got {value}")
    return _cents(value)


def _cents(value: Decimal) -> Decimal:
    """Two-place form of a whole-cents amount; the exact context raises if that would round."""
    with localcontext(EXACT_CONTEXT):
        return value.quantize(CENT)


def _whole_cents_of(balance: Decimal) -> Decimal:
    with localcontext(_FLOOR_CONTEXT):
        return max(Decimal(0), balance).quantize(CENT)


def _lock_balances(ledger: Ledger, call: _Call) -> SettlementBalances:
    """Lock every account the plan reads, so no concurrent command changes them before we write."""
    if call.unsettled_equity < 0:
        pairs = [
            (call.account, USDC), (call.account, USDC_BORROW), (EXCHANGE_OWNER, USDC),
            (LENDING_POOL_OWNER, USDC), (LENDING_POOL_OWNER, USDC_BORROW),
        ]
    elif call.unsettled_equity > 0:
        pairs = [(call.account, USDC), (LIQUIDITY_FUND_OWNER, USDC)]
    else:
        pairs = []
    locked = ledger.lock_balances(pairs) if pairs else {}

    def available(owner: str, asset: str) -> Decimal:
        balance = locked.get((owner, asset))
        return balance.available if balance is not None else Decimal(0)

    return SettlementBalances(
        account_usdc=available(call.account, USDC),
        outstanding_borrow=available(call.account, USDC_BORROW),
        lending_pool_usdc=available(LENDING_POOL_OWNER, USDC),
        lending_pool_capacity=available(LENDING_POOL_OWNER, USDC_BORROW),
        liquidity_fund_usdc=available(LIQUIDITY_FUND_OWNER, USDC),
    )


def _step_plan(amounts: StepAmounts) -> list[tuple[str, Decimal]]:
    """Steps in order, each with a positive amount (a zero step writes no entry)."""
    planned = [
        (DRAIN, amounts.drained_usdc),
        *((step, amounts.borrowed_usdc) for step in BORROW_STEPS),
        (DRAW, amounts.drawn_usdc),
    ]
    return [(step, amount) for step, amount in planned if amount > 0]


def _write_step(ledger: Ledger, call: _Call, step: str, amount: Decimal) -> SettlementStep:
    assert amount > 0 and _is_whole_cents(amount), f"step {step} amount {amount} is not positive whole cents"
    from_owner, to_owner, asset = call.route(step)
    entry_id = ledger.transfer(from_owner, to_owner, asset, amount, call.step_key(step), call.description(step))
    return SettlementStep(step, from_owner, to_owner, asset, _cents(amount), entry_id)


def _replay(ledger: Ledger, call: _Call) -> EquitySettlement | None:
    recorded = {step: ledger.recorded_entry(call.step_key(step)) for step in STEP_ORDER}
    steps = tuple(_recorded_step(call, step, entry) for step, entry in recorded.items() if entry is not None)
    if not steps:
        return None
    amount_by_step = {step.name: step.amount for step in steps}
    borrowed = {amount_by_step.get(step, Decimal(0)) for step in BORROW_STEPS}
    assert len(borrowed) == 1, f"borrow steps of {call.idempotency_key!r} disagree: {amount_by_step}"
    amounts = StepAmounts(
        drained_usdc=amount_by_step.get(DRAIN, Decimal(0)),
        borrowed_usdc=borrowed.pop(),
        drawn_usdc=amount_by_step.get(DRAW, Decimal(0)),
    )
    return _settlement(call, amounts, steps)


def _record_call(ledger: Ledger, call: _Call, amounts: StepAmounts) -> None:
    ledger.session.add(EquitySettlementRecord(
        idempotency_key=call.idempotency_key, account=call.account, unsettled_equity=call.unsettled_equity,
        borrow_limit=call.borrow_limit, drained_usdc=amounts.drained_usdc, borrowed_usdc=amounts.borrowed_usdc,
        drawn_usdc=amounts.drawn_usdc, created_at=ledger.now()))
    ledger.session.flush()


def _replay_recorded_call(ledger: Ledger, call: _Call) -> EquitySettlement | None:
    """A call that moved nothing has no journal entry; its record still answers a retry."""
    row = ledger.session.get(EquitySettlementRecord, call.idempotency_key)
    if row is None:
        return None
    if (row.account, row.unsettled_equity, row.borrow_limit) != (call.account, call.unsettled_equity,
                                                                    call.borrow_limit):
        raise IdempotencyConflict(f"idempotency key {call.idempotency_key!r} was used for another settlement")
    amounts = StepAmounts(drained_usdc=row.drained_usdc, borrowed_usdc=row.borrowed_usdc, drawn_usdc=row.drawn_usdc)
    return _settlement(call, amounts, ())


def _recorded_step(call: _Call, step: str, entry: RecordedEntry) -> SettlementStep:
    if entry.kind != "transfer" or entry.description != call.description(step):
        raise IdempotencyConflict(
            f"key {call.step_key(step)!r} was used for another command: {entry.kind} {entry.description!r}"
        )
    from_owner, to_owner, asset = call.route(step)
    movements = {(line.owner, line.asset, line.bucket): line.amount for line in entry.lines}
    amount = movements.get((to_owner, asset, AVAILABLE))
    assert amount is not None and len(entry.lines) == 2, f"entry {entry.entry_id} is not a {step} transfer"
    assert movements.get((from_owner, asset, AVAILABLE)) == -amount, f"entry {entry.entry_id} does not balance"
    return SettlementStep(step, from_owner, to_owner, asset, _cents(amount), entry.entry_id)


def _settlement(call: _Call, amounts: StepAmounts, steps: tuple[SettlementStep, ...]) -> EquitySettlement:
    zero = Decimal(0)
    with localcontext(EXACT_CONTEXT):
        owed_by_account = max(zero, -call.unsettled_equity)
        owed_by_exchange = max(zero, call.unsettled_equity)
        shortfall = owed_by_account - amounts.drained_usdc - amounts.borrowed_usdc
        remaining = owed_by_exchange - amounts.drawn_usdc
    assert shortfall >= 0 and remaining >= 0, f"settled more than owed: {amounts} for {call}"
    return EquitySettlement(
        account=call.account,
        unsettled_equity=call.unsettled_equity,
        borrow_limit=call.borrow_limit,
        drained_usdc=_cents(amounts.drained_usdc),
        borrowed_usdc=_cents(amounts.borrowed_usdc),
        shortfall_usdc=_cents(shortfall),
        drawn_usdc=_cents(amounts.drawn_usdc),
        remaining_usdc=_cents(remaining),
        steps=steps,
    )
