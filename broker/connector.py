"""Wires the broker connector: its worker thread, its FIX initiator (one session to the
gateway as a solver, one to the venue), feeds, parameters, orders, custody and store.

On start it reloads open work from SQL and, once the venue session is up, asks the
venue for the status of every order (OrderMassStatusRequest) before quoting again."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import assert_never

import structlog

from broker.custody import SimulatedCustody
from broker.fix_app import ConnectorApplication, ConnectorSender
from broker.messages import ConnectorCommand, MassStatusQuery, QuoteWon, RfqOffered, VenueExecution, VenueSessionDone
from broker.order_manager import OrderManager, OrderOutcome, OrderTimers
from broker.parameters import ParameterBook, QuotingParameters
from broker.ports import PriceSource, TradingGate
from broker.refs import RfqRef
from broker.solver import BrokerConfig, BrokerSolver
from broker.store import BrokerStore
from core.clock import Clock
from ledger.uow import SqlUnitOfWork
from runtime.worker import CommandWorker
from transport.fix.engine import FixEngine
from transport.fix.settings_builder import EngineSpec, SessionSpec

log = structlog.get_logger(__name__)

PARAMETER_REFRESH_S = 1.0  # seconds: how soon a margin changed in SQL is quoted with
RECONCILE_TIMEOUT_S = 10.0  # quote again even if the venue never answers the mass status request


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    comp_id: str


# Sequence numbers with the venue survive restarts, so QuickFIX replays the reports
# (fills included) the venue sent while the connector was down.
PERSISTENT_SEQUENCES = {"ResetOnLogon": "N", "ResetOnLogout": "N", "ResetOnDisconnect": "N"}


class BrokerConnector:
    def __init__(self, *, comp_id: str, gateway: Endpoint, venue: Endpoint, config: BrokerConfig,
                 prices: PriceSource, clock: Clock, data_dir: Path, data_dictionary: Path,
                 uow_factory: Callable[[], SqlUnitOfWork], timers: OrderTimers = OrderTimers(),
                 withdraw_delay_s: float = 1.0, trading: TradingGate | None = None,
                 gateway_credentials: tuple[str, str] | None = None) -> None:
        self.clock = clock
        self._uow_factory = uow_factory
        sender = ConnectorSender(comp_id, gateway.comp_id, venue.comp_id, clock)
        self._sender = sender
        self.parameters = ParameterBook(QuotingParameters(config.margin_bps, config.aggression_bps))
        self.store = BrokerStore(uow_factory)
        # Custody and the order manager call the solver back; the solver is built right after them.
        self.custody = SimulatedCustody(clock, withdraw_delay_s, self._withdrawn, tokens=self.store)
        orders = OrderManager(clock, timers, sender.order, sender.status_query, sender.cancel, self.store,
                              self._order_done)
        self.solver = BrokerSolver(config=config, prices=prices, clock=clock, send_quote=sender.quote,
                                   report_execution=sender.execution, store=self.store, custody=self.custody,
                                   orders=orders, parameters=self.parameters, trading=trading,
                                   gateway_ready=lambda: gateway.comp_id in self.application.logged_on)
        self.worker = CommandWorker("broker-connector", self._dispatch, on_tick=self._tick)
        self.application = ConnectorApplication(self.worker, gateway.comp_id, venue.comp_id, gateway_credentials,
                                                on_venue_logon=self._venue_logged_on)
        self.reconciling = True
        self._reconcile_deadline = time.monotonic() + RECONCILE_TIMEOUT_S  # pacing: monotonic, not the clock
        self._next_refresh = 0.0
        self.engine = FixEngine(self._engine_spec(comp_id, gateway, venue, data_dir, data_dictionary),
                                self.application)

    @staticmethod
    def _engine_spec(comp_id: str, gateway: Endpoint, venue: Endpoint, data_dir: Path,
                     data_dictionary: Path) -> EngineSpec:
        return EngineSpec(
            name="broker", connection_type="initiator", host=gateway.host, port=gateway.port,
            sessions=(
                SessionSpec(comp_id, gateway.comp_id, {"SocketConnectHost": gateway.host,
                                                       "SocketConnectPort": str(gateway.port)}),
                SessionSpec(comp_id, venue.comp_id, {"SocketConnectHost": venue.host,
                                                     "SocketConnectPort": str(venue.port), **PERSISTENT_SEQUENCES}),
            ),
            data_dir=data_dir, data_dictionary=data_dictionary,
        )

    def _order_done(self, outcome: OrderOutcome) -> None:
        self.solver.on_order_done(outcome)

    def _withdrawn(self, rfq: RfqRef) -> None:
        self.solver.on_withdrawal_confirmed(rfq)

    def _dispatch(self, command: ConnectorCommand) -> None:
        if isinstance(command, RfqOffered):
            if self.reconciling:
                log.info("broker_declined", quote_req_id=command.quote_req_id, reason="reconciling with the venue")
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
            self.solver.report_pending()
            with self._uow_factory() as uow:
                self.parameters.refresh(uow.session)

    def start(self) -> None:
        self.solver.restore()  # before any message can arrive: the worker is not running yet
        self.worker.start()
        self.engine.start()

    def stop(self) -> None:
        self.worker.stop()  # no more sends before the engine tears its sessions down
        self.engine.stop()
