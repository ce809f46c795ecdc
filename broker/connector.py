"""Wires the broker connector: its worker thread, its FIX initiator, its solver."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from broker.fix_app import ConnectorApplication, ConnectorSender
from broker.messages import QuoteWon, RfqOffered, VenueExecution
from broker.solver import BrokerConfig, BrokerSolver, PriceSource
from fixio.engine import FixEngine
from fixio.settings_builder import EngineSpec, SessionSpec
from gateway.domain.events import DomainEvent
from rfq_runtime.clock import Clock
from rfq_runtime.worker import CommandWorker


class BrokerConnector:
    def __init__(self, *, comp_id: str, gateway: tuple[str, int, str], venue: tuple[str, int, str],
                 config: BrokerConfig, prices: PriceSource, clock: Clock, data_dir: Path, data_dictionary: Path,
                 record_event: Callable[[DomainEvent], None],
                 gateway_credentials: tuple[str, str] | None = None) -> None:
        gateway_host, gateway_port, gateway_comp_id = gateway
        venue_host, venue_port, venue_comp_id = venue
        sender = ConnectorSender(comp_id, gateway_comp_id, venue_comp_id, clock)
        self.solver = BrokerSolver(config=config, prices=prices, clock=clock, send_quote=sender.quote,
                                   send_order=sender.order, report_execution=sender.execution,
                                   record_event=record_event)
        self.worker = CommandWorker("broker-connector", self._dispatch)
        self.application = ConnectorApplication(self.worker, gateway_comp_id, venue_comp_id, gateway_credentials)
        spec = EngineSpec(
            name="broker", connection_type="initiator", host=gateway_host, port=gateway_port,
            sessions=(
                SessionSpec(comp_id, gateway_comp_id, {"SocketConnectHost": gateway_host,
                                                       "SocketConnectPort": str(gateway_port)}),
                SessionSpec(comp_id, venue_comp_id, {"SocketConnectHost": venue_host,
                                                     "SocketConnectPort": str(venue_port)}),
            ),
            data_dir=data_dir, data_dictionary=data_dictionary,
        )
        self.engine = FixEngine(spec, self.application)

    def _dispatch(self, command: object) -> None:
        if isinstance(command, RfqOffered):
            self.solver.on_rfq(command)
        elif isinstance(command, QuoteWon):
            self.solver.on_won(command)
        elif isinstance(command, VenueExecution):
            self.solver.on_venue_report(command)
        else:
            raise AssertionError(f"unknown connector command {type(command).__name__}")

    def start(self) -> None:
        self.worker.start()
        self.engine.start()

    def stop(self) -> None:
        self.worker.stop()  # no more sends before the engine tears its sessions down
        self.engine.stop()
