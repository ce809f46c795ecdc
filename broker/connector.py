"""Wires the broker connector: its worker thread, its FIX initiator (one session to the
gateway as a solver, one to the venue), feeds, parameters, orders, custody and store.

On start it reloads open work from SQL and, once the venue session is up, asks the
venue for the status of every order (OrderMassStatusRequest) before quoting again."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import assert_never

import structlog

from broker.capacity import Capacity
from broker.custody import SimulatedCustody
from broker.fix_app import ConnectorApplication, ConnectorSender
from broker.messages import (
    ConnectorCommand,
    GatewaySessionUp,
    MassStatusQuery,
    QuoteStatusNotice,
    QuoteWon,
    RfqOffered,
    SettlementAcknowledged,
    VenueExecution,
    VenueSessionDone,
)
from broker.order_manager import OrderManager, OrderOutcome, OrderTimers
from broker.parameters import ParameterBook, QuotingParameters
from broker.ports import PriceSource, TradingGate
from broker.recovery import resume_venue_session
from broker.refs import RfqRef
from broker.solver import QUOTE_ACCEPTANCE_GRACE_S, BrokerConfig, BrokerSolver
from broker.store import BrokerStore
from core.clock import Clock, SystemClock
from ledger.uow import SqlUnitOfWork
from runtime.worker import CommandWorker
from transport.fix.engine import FixEngine
from transport.fix.roll import RollSchedule, SessionRoller
from transport.fix.settings_builder import EngineSpec, SessionOptions, SessionSpec, session_id

log = structlog.get_logger(__name__)

PARAMETER_REFRESH_S = 1.0  # seconds: how soon a margin changed in SQL is quoted with
RECONCILE_TIMEOUT_S = 10.0  # quote again even if the venue never answers the mass status request
QUOTE_PRUNE_INTERVAL_S = 60.0  # how often quotes no acceptance can come for leave SQL


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    comp_id: str


@dataclass(frozen=True)
class FixSessionPolicy:
    """The connector's two FIX sessions: sequence numbers persist (the venue's reports and the
    gateway's acknowledgements sent while it was down are resent), rolled on the schedule."""

    options: SessionOptions = SessionOptions()
    schedule: RollSchedule = RollSchedule.daily()
    store: str = "file"


class BrokerConnector:
    def __init__(self, *, comp_id: str, gateway: Endpoint, venue: Endpoint, config: BrokerConfig,
                 prices: PriceSource, clock: Clock, data_dir: Path, data_dictionary: Path,
                 uow_factory: Callable[[], SqlUnitOfWork], timers: OrderTimers = OrderTimers(),
                 withdraw_delay_s: float = 1.0, trading: TradingGate | None = None,
                 gateway_credentials: tuple[str, str] | None = None,
                 fix_policy: FixSessionPolicy = FixSessionPolicy()) -> None:
        self.clock = clock
        self._uow_factory = uow_factory
        sender = ConnectorSender(comp_id, gateway.comp_id, venue.comp_id, clock)
        self._sender = sender
        self.parameters = ParameterBook(QuotingParameters(config.margin_bps, config.aggression_bps))
        self.store = BrokerStore(uow_factory)
        # Custody and the order manager call the solver back; the solver is built right after them.
        self.custody = SimulatedCustody(clock, withdraw_delay_s, self._withdrawn, tokens=self.store)
        orders = OrderManager(clock, timers, sender.order, sender.status_query, sender.cancel, self.store,
                              self._order_done, may_retry=lambda rfq_ref: self.solver.may_retry(rfq_ref))
        self.solver = BrokerSolver(config=config, prices=prices, clock=clock, send_quote=sender.quote,
                                   report_execution=sender.execution, store=self.store, custody=self.custody,
                                   orders=orders, parameters=self.parameters, trading=trading,
                                   gateway_ready=lambda: gateway.comp_id in self.application.logged_on,
                                   capacity=Capacity(self.store, config.account, config.borrow_capacity_usdc))
        self.worker = CommandWorker("broker-connector", self._dispatch, on_tick=self._tick)
        self.application = ConnectorApplication(self.worker, gateway.comp_id, venue.comp_id, gateway_credentials,
                                                on_venue_logon=self._venue_logged_on)
        self.reconciling = True
        self._reconcile_deadline = time.monotonic() + RECONCILE_TIMEOUT_S  # pacing: monotonic, not the clock
        self._next_refresh = 0.0
        self._next_quote_prune = 0.0
        sessions = [session_id(comp_id, gateway.comp_id), session_id(comp_id, venue.comp_id)]
        self._venue_session = sessions[1]
        self.engine = FixEngine(self._engine_spec(comp_id, gateway, venue, data_dir, data_dictionary, fix_policy),
                                self.application)
        # The FIX day is operational time: the wall clock, as QuickFIX stamps its stores.
        self.application.roller = SessionRoller(fix_policy.schedule, SystemClock(), lambda: sessions, acceptor=False,
                                                created_at=self.engine.store_created_at)

    @staticmethod
    def _engine_spec(comp_id: str, gateway: Endpoint, venue: Endpoint, data_dir: Path,
                     data_dictionary: Path, policy: FixSessionPolicy) -> EngineSpec:
        return EngineSpec(
            name="broker", connection_type="initiator", host=gateway.host, port=gateway.port,
            sessions=(
                SessionSpec(comp_id, gateway.comp_id, {"SocketConnectHost": gateway.host,
                                                       "SocketConnectPort": str(gateway.port)}),
                SessionSpec(comp_id, venue.comp_id, {"SocketConnectHost": venue.host,
                                                     "SocketConnectPort": str(venue.port)}),
            ),
            data_dir=data_dir, data_dictionary=data_dictionary, defaults=policy.options, store=policy.store,
        )

    def _order_done(self, outcome: OrderOutcome) -> None:
        self.solver.on_order_done(outcome)

    def _withdrawn(self, rfq: RfqRef) -> None:
        self.solver.on_withdrawal_confirmed(rfq)

    def _dispatch(self, command: ConnectorCommand) -> None:
        if isinstance(command, RfqOffered):
            if self.reconciling:
                log.debug("broker_declined", quote_req_id=command.quote_req_id, reason="reconciling with the venue")
                return
            self.solver.on_rfq(command)
        elif isinstance(command, QuoteWon):
            self.solver.on_won(command)
        elif isinstance(command, VenueExecution):
            self.solver.orders.on_report(command)
            if command.last_report:
                self._reconciled("mass status answered")
        elif isinstance(command, VenueSessionDone):
            self._reconciled("venue has no orders for us")
        elif isinstance(command, SettlementAcknowledged):
            self.solver.on_settlement_ack(command)
        elif isinstance(command, QuoteStatusNotice):
            self.solver.on_quote_status(command)
        elif isinstance(command, GatewaySessionUp):
            self.solver.report_pending()
        else:
            assert_never(command)

    def _venue_logged_on(self) -> None:
        """Runs on a QuickFIX thread: only enqueue/send, no SQL."""
        self._sender.mass_status(MassStatusQuery(f"ms-{int(self.clock.now().timestamp() * 1000)}"))

    def _reconciled(self, why: str) -> None:
        if self.reconciling:
            self.reconciling = False
            log.info("broker_reconciled", why=why, working_orders=len(self.solver.orders.working_orders()))

    def _tick(self) -> None:
        if self.reconciling and time.monotonic() > self._reconcile_deadline:
            self._reconciled("no answer to the mass status request in time")
        self.solver.orders.on_tick()
        self.custody.on_tick()
        self.solver.forget_expired_quotes()
        if time.monotonic() >= self._next_refresh:
            self._next_refresh = time.monotonic() + PARAMETER_REFRESH_S
            with self._uow_factory() as uow:
                self.parameters.refresh(uow.session)
        if time.monotonic() >= self._next_quote_prune:
            self._next_quote_prune = time.monotonic() + QUOTE_PRUNE_INTERVAL_S
            self.store.forget_quotes(self.clock.now() - timedelta(seconds=QUOTE_ACCEPTANCE_GRACE_S))
        if self.application.roller is not None:
            self.application.roller.poll()

    def start(self) -> None:
        self.solver.restore()  # before any message can arrive: the worker is not running yet
        resume_venue_session(self._venue_session, self.store.last_venue_trade_seq())
        self.worker.start()
        self.engine.start()

    def stop(self) -> None:
        self.worker.stop()  # no more sends before the engine tears its sessions down
        self.engine.stop()
