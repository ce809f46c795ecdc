"""The console's operator actions: the CLI's, through the same tables, each recorded in operator_commands.

- disable/enable a solver: solver_status and a queued operator command, in one transaction
  (`admin disable-solver`); the running engine applies it within a second.
- set the broker's margins for a market session: broker_parameters (`broker set-margin`), which the
  connector re-reads every second, and an operator command recorded as already applied (audit).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from broker.parameters import QuotingParameters, set_parameters
from core.clock import Now
from gateway.access.models import REASON_LENGTH
from gateway.access.operator import OperatorCommandKind, OperatorQueue, SolverStatusStore
from marketcal.sessions import MarketSession

MAX_BPS_TEXT = 32


class ActionError(Exception):
    """The operator's input is refused: shown on the page, nothing written."""


@dataclass(frozen=True)
class ActionResult:
    command_id: int
    message: str


class OperatorActions:
    def __init__(self, database: Callable[[], Session], solver_ids: tuple[str, ...], broker_comp_id: str,
                 clock: Now) -> None:
        self._database = database
        self._solvers = solver_ids
        self._broker = broker_comp_id
        self._clock = clock

    def check_solver(self, comp_id: str) -> str:
        if comp_id not in self._solvers:
            raise ActionError(f"{comp_id!r} is not a configured solver session")
        return comp_id

    def switch_solver(self, comp_id: str, enabled: bool, operator: str, reason: str | None = None) -> ActionResult:
        comp_id = self.check_solver(comp_id)
        verb = "enabled" if enabled else "disabled"
        reason = (reason or "").strip() or f"{verb} by {operator} (console)"
        if len(reason) > REASON_LENGTH:
            raise ActionError(f"reason longer than {REASON_LENGTH} characters")
        kind = OperatorCommandKind.ENABLE_SOLVER if enabled else OperatorCommandKind.DISABLE_SOLVER
        with self._database() as session, session.begin():
            SolverStatusStore(session, self._clock).set_enabled(comp_id, enabled, reason)
            command_id = OperatorQueue(session, self._clock).enqueue(kind, comp_id, operator)
        return ActionResult(command_id, f"solver {comp_id} {verb} ({reason}); operator command #{command_id} "
                                        "queued for the running gateway")

    @staticmethod
    def parse_margin(market_session: str, margin_bps: str, aggression_bps: str) -> tuple[str, QuotingParameters]:
        if market_session not in {s.value for s in MarketSession}:
            raise ActionError(f"unknown market session {market_session!r}")
        if len(margin_bps) > MAX_BPS_TEXT or len(aggression_bps) > MAX_BPS_TEXT:
            raise ActionError("a value in bps is a short decimal number")
        try:
            parameters = QuotingParameters(Decimal(margin_bps.strip()), Decimal(aggression_bps.strip() or "0"))
        except (InvalidOperation, ValueError) as error:
            raise ActionError(f"invalid margin: {error}") from error
        if not (parameters.margin_bps.is_finite() and parameters.aggression_bps.is_finite()):
            raise ActionError("invalid margin: not a finite number")
        return market_session, parameters

    def set_margin(self, market_session: str, margin_bps: str, aggression_bps: str, operator: str) -> ActionResult:
        market_session, parameters = self.parse_margin(market_session, margin_bps, aggression_bps)
        text = (f"{market_session}: margin {parameters.margin_bps} bps, aggression {parameters.aggression_bps} bps")
        with self._database() as session, session.begin():
            set_parameters(session, market_session, parameters, self._clock(), operator)
            command_id = OperatorQueue(session, self._clock).record_applied(
                OperatorCommandKind.SET_BROKER_MARGIN, self._broker, operator, text)
        return ActionResult(command_id, f"{text} (the connector picks this up within a second); "
                                        f"operator command #{command_id}")
