"""Builds and runs the whole system in one process tree: the simulated venue,
the gateway (acceptor + RFQ engine), the broker connector and the outbox relay."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

import quickfix as fix
import structlog

from app.broker_process import build_connector, price_feeds
from app.margin_wiring import MarginWiring, publish_reserves, seed_margin_funds
from app.reference_data import seed_reference_data
from app.settings import Settings
from app.venue_process import build_venue, market_of, price_board
from broker.connector import BrokerConnector
from broker.feeds import FeedPoller, ReferencePrices
from core.clock import Clock, SystemClock
from core.events import DomainEvent
from core.types import SessionName
from db.engine import create_db_engine, session_factory, upgrade_to_head
from gateway.access.credentials import CredentialCache, CredentialStore
from gateway.access.operator import SolverStatusStore
from gateway.domain.policy import GatewayPolicy, InstrumentTerms
from gateway.engine import RfqEngine
from gateway.fix.acceptor_app import GatewayApplication, OutboundSender
from gateway.fix.intake import IntakeGuard, IntakeLimits
from gateway.fix.logon_screen import LogonScreen, ScreenConfig, ScreenPorts, tls_context
from gateway.fix.recovery import resume_sequence_numbers
from gateway.fix.screen_relay import RelayLimits
from gateway.repository import SqlGatewayUnitOfWork
from gateway.rules.compliance import CompliancePolicy
from gateway.rules.store import load_compliance
from ledger.outbox_relay import OutboxRelay
from ledger.uow import SqlUnitOfWork
from marketcal.sessions import TradingRules
from marketcal.store import load_trading_rules
from runtime.memory import can_release_free_memory, release_free_memory
from runtime.periodic import Periodic
from runtime.ports import free_port
from runtime.worker import CommandWorker
from transport.fix.dictionary import DATA_DICTIONARY
from transport.fix.engine import FixEngine
from transport.fix.roll import SessionRoller
from transport.fix.settings_builder import EngineSpec, SessionSpec, session_id
from venue_sim.market import Market
from venue_sim.server import VenueServer

PriceLookup = Callable[[str], tuple[Decimal, Decimal] | None]

log = structlog.get_logger(__name__)

CREDENTIAL_REFRESH_S = 1.0  # how soon a password changed by an operator takes effect
ROLL_POLL_S = 1.0  # how often the FIX trading-day roll is checked (it happens within a second of its time)


class MarketPriceSource:
    """The connector's reference prices, read in process from the simulated venue's NBBO."""

    def __init__(self, market: Market, clock: Clock) -> None:
        self._market = market
        self._clock = clock

    def reference(self, symbol: str) -> tuple[Decimal, Decimal] | None:
        if not self._market.has_symbol(symbol):
            return None
        nbbo = self._market.nbbo(symbol, self._clock.now())
        return nbbo.bid, nbbo.ask


@dataclass
class Stack:
    settings: Settings
    clock: Clock = field(default_factory=SystemClock)
    with_broker: bool = True
    # True: the simulated venue runs inside this process (tests, the demo); False: it is another
    # process (`venue run`, or `serve`'s child) and prices come from its store's price board.
    venue_in_process: bool = True

    def __post_init__(self) -> None:
        self.data_dir: Path = self.settings.resolved_data_dir()
        self.database_url = self.settings.resolved_database_url()
        upgrade_to_head(self.database_url)
        self.db_engine = create_db_engine(self.database_url)
        self.sessions = session_factory(self.db_engine)
        self.fund_accounts()
        self.trading, self.compliance = self._load_rules()
        self.market: Market | None = None
        self.venue: VenueServer | None = None
        if self.venue_in_process:
            self.market = market_of(self.settings)
            self.venue = build_venue(self.settings, self.clock, self.trading.calendar, self.market)
            self.reference: PriceLookup = MarketPriceSource(self.market, self.clock).reference
        else:
            self.reference = price_board(self.settings).reference
        self.margin = (MarginWiring(self.settings, self.clock, self.trading, self.reference)
                       if self.settings.margin.enabled else None)
        self.engine, self.worker, self.gateway_fix, self.screen = self._build_gateway()
        self.broker = self._build_broker() if self.with_broker else None
        self.relay = (OutboxRelay(self.settings.mqtt_url, self.uow, self.settings.mqtt_topic_prefix)
                      if self.settings.mqtt_url else None)

    def gateway_uow(self) -> SqlGatewayUnitOfWork:
        """The engine's unit of work: ledger and gateway store in one transaction, stamped by the engine's clock."""
        return SqlGatewayUnitOfWork(self.sessions, self.clock)

    def uow(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)

    def fund_accounts(self) -> None:
        """Opening balances from config, once each (the idempotency key makes re-runs no-ops)."""
        with self.uow() as uow:
            for funding in self.settings.funding:
                uow.ledger.deposit(funding.account, funding.asset, funding.amount,
                                   idempotency_key=f"funding:{funding.account}:{funding.asset}")
            if self.settings.margin.enabled:
                seed_margin_funds(uow.ledger, self.settings)
            uow.commit()

    def _build_gateway(self) -> tuple[RfqEngine, CommandWorker, FixEngine, LogonScreen]:
        gateway = self.settings.gateway
        with self.gateway_uow() as gateway_uow:
            book = gateway_uow.store.load_book()
            progress = gateway_uow.store.load_progress()
        with self.uow() as uow:
            book.disabled_solvers.update(SessionName(comp_id) for comp_id in SolverStatusStore(uow.session).disabled())
            self.credentials = self._seed_credentials(uow)
            uow.commit()
        sender = OutboundSender(gateway.comp_id, self.clock)
        engine = RfqEngine(self.policy(), book, self.gateway_uow, self.clock, sender, progress=progress,
                           resend=sender.resend)
        self.credential_refresh = Periodic("credential-refresh", CREDENTIAL_REFRESH_S, self._refresh_credentials)
        if self.margin is not None:
            self.margin.attach(engine)
        worker = CommandWorker("rfq-engine", engine.handle, on_tick=self._engine_tick,
                               handle_batch=engine.handle_batch)
        self.reserves_job = Periodic("proof-of-reserves", self.settings.reserves.interval_s,
                                     lambda: None if self.publish_reserves() else None)
        # QuickFIX listens on a private loopback port; the public port is the logon screen's.
        fix_settings = self.settings.fix
        private_port = free_port(exclude=frozenset({gateway.port, self.settings.venue.port}))
        spec = EngineSpec(name="gateway", connection_type="acceptor", host="127.0.0.1", port=private_port,
                          sessions=tuple(SessionSpec(gateway.comp_id, s.comp_id,
                                                     options=self.settings.fix_options_for(s.comp_id))
                                         for s in self.settings.sessions),
                          data_dir=self.data_dir, data_dictionary=DATA_DICTIONARY,
                          defaults=fix_settings.options(), store=fix_settings.store,
                          store_max_cached_messages=fix_settings.store_max_cached_messages)
        self.memory_trim = (Periodic("memory-trim", self.settings.memory_trim_interval_s,
                                     lambda: None if release_free_memory() else None)
                            if self.settings.memory_trim_interval_s > 0 and can_release_free_memory() else None)
        self.roll_check = Periodic("fix-roll", ROLL_POLL_S, lambda: None if self.roller.poll() else None)
        logon_check = self.credentials if gateway.require_logon_password else None
        intake = IntakeGuard(self._intake_limits)
        self.application = GatewayApplication(worker, engine.policy, logon_check, intake=intake, reply=sender,
                                              gateway_comp_id=gateway.comp_id,
                                              admission_backlog=gateway.admission_backlog,
                                              open_rfqs=lambda session: engine.book.open_rfq_count(session))
        screen = LogonScreen(self._screen_config(spec.port), self._screen_ports())
        quickfix = FixEngine(spec, self.application)
        self.application.sequence_epoch = quickfix.store_created_at
        # The FIX day is operational time: the wall clock, as QuickFIX stamps its stores (never a simulated clock).
        self.roller = SessionRoller(fix_settings.schedule.schedule(), SystemClock(), self._gateway_session_ids,
                                    acceptor=True, created_at=quickfix.store_created_at)
        return engine, worker, quickfix, screen

    def _gateway_session_ids(self) -> list[fix.SessionID]:
        return [session_id(self.settings.gateway.comp_id, s.comp_id) for s in self.settings.sessions]

    def _intake_limits(self, comp_id: str) -> IntakeLimits:
        limits = self.settings.limits_for(comp_id)
        return IntakeLimits(messages_per_s=limits.messages_per_s, burst=limits.burst, queue_limit=limits.queue_limit)

    def _screen_config(self, upstream_port: int) -> ScreenConfig:
        gateway = self.settings.gateway
        tls = (tls_context(gateway.tls.certificate, gateway.tls.key, gateway.tls.minimum_version)
               if gateway.tls is not None else None)
        return ScreenConfig(host=gateway.host, port=gateway.port, upstream_port=upstream_port,
                            gateway_comp_id=gateway.comp_id, data_dictionary=DATA_DICTIONARY,
                            credentials_required=gateway.require_logon_password,
                            logon_timeout_s=gateway.logon_timeout_s, tls=tls)

    def _screen_ports(self) -> ScreenPorts:
        gateway_comp_id = self.settings.gateway.comp_id
        known = frozenset(self._known_comp_ids())

        def check(comp_id: str, username: bytes | None, password: bytes | None) -> bool:
            return self.credentials.check(comp_id, username, password).ok

        def registered(comp_id: str) -> bool:
            return bool(fix.Session.isSessionRegistered(session_id(gateway_comp_id, comp_id)))

        return ScreenPorts(known_sessions=lambda: known, check_credentials=check, is_registered=registered,
                           relay_limits=self._relay_limits, force_logout=self.application.force_logout,
                           session_released=self.application.session_released)

    def _relay_limits(self, comp_id: str) -> RelayLimits:
        limits = self.settings.limits_for(comp_id)
        return RelayLimits(max_message_bytes=limits.max_message_bytes, messages_per_s=limits.messages_per_s,
                           flood_window_s=limits.flood_window_s)

    def _load_rules(self) -> tuple[TradingRules, CompliancePolicy]:
        """Reference data from config (and the holiday calendar) into SQL, then the rules from SQL."""
        with self.uow() as uow:
            seed_reference_data(uow.session, self.settings)
            uow.commit()
        with self.uow() as uow:
            trading, compliance = load_trading_rules(uow.session), load_compliance(uow.session)
        year = self.clock.now().year
        if year not in trading.calendar.covered_years():
            log.warning("holiday_calendar_not_covering_this_year", year=year,
                        covered=sorted(trading.calendar.covered_years()))
        return trading, compliance

    def policy(self) -> GatewayPolicy:
        terms = {symbol: InstrumentTerms(tick=rules.tick, submission_window_s=rules.submission_window_s,
                                         acceptance_window_s=rules.acceptance_window_s)
                 for symbol, rules in self.trading.instruments.items()}
        return replace(self.settings.policy(), instruments=terms, trading=self.trading, compliance=self.compliance,
                       reference_ask=self._reference_ask, reference_nbbo=self.reference,
                       margin=self.margin.terms if self.margin is not None else None)

    def _engine_tick(self) -> None:
        """The engine's timers, then the margin monitor (same thread, same clock)."""
        self.engine.tick()
        if self.margin is not None:
            self.margin.tick()

    def publish_reserves(self, trigger: str = "schedule") -> int:
        return publish_reserves(self.sessions, self.settings, self.clock.now(), trigger)

    def _reference_ask(self, symbol: str) -> Decimal | None:
        reference = self.reference(symbol)
        return reference[1] if reference else None

    def _seed_credentials(self, uow) -> CredentialCache:
        """Configured development passwords are stored once; operators change them with `admin set-password`."""
        store = CredentialStore(uow.session)
        stored = store.all()
        for section in self.settings.sessions:
            if section.password is not None and section.comp_id not in stored:
                store.set_password(section.comp_id, section.username or section.comp_id,
                                   section.password.get_secret_value())
        return CredentialCache(self._known_comp_ids(), store.all())

    def _refresh_credentials(self) -> None:
        """Operators change passwords with `admin set-password`; logons see the change within a second."""
        with self.uow() as uow:
            stored = CredentialStore(uow.session).all()
        self.credentials.replace(self._known_comp_ids(), stored)

    def _known_comp_ids(self) -> set[str]:
        return {section.comp_id for section in self.settings.sessions}

    def credentials_of(self, comp_id: str) -> tuple[str, str] | None:
        return self.settings.credentials_of(comp_id)

    def _build_broker(self) -> BrokerConnector:
        # Both feeds read the venue's NBBO here (in process, or its price board); in production they
        # are two providers.
        primary, fallback = price_feeds()
        self.feed_poller = FeedPoller([primary, fallback], self.reference,
                                      [i.symbol for i in self.settings.instruments], self.clock,
                                      self.settings.broker.feed_poll_interval_s)
        prices = ReferencePrices(primary, fallback, self.settings.broker.price_staleness_s, self.clock)
        return build_connector(self.settings, self.clock, prices, self.uow, self.trading)

    def record_event(self, event: DomainEvent) -> None:
        with self.uow() as uow:
            uow.add_event(event.event_type, event.payload(), rfq_id=event.rfq_id, occurred_at=event.occurred_at)
            uow.commit()

    def start(self) -> None:
        if self.venue is not None:
            self.venue.start()
        self.gateway_fix.start()  # QuickFIX's sessions exist from here; only the private port listens
        self.recover_sessions()
        self.worker.start()
        self.credential_refresh.start()
        self.roll_check.start()
        self.reserves_job.start()
        if self.memory_trim is not None:
            self.memory_trim.start()
        self.screen.start()  # counterparties can log on from here
        if self.broker:
            self.feed_poller.start()
            self.broker.start()
        if self.relay:
            self.relay.start()
        log.info("stack_started", gateway_port=self.settings.gateway.port, venue_port=self.settings.venue.port,
                 database=self.db_engine.url.render_as_string(hide_password=True))

    def recover_sessions(self) -> None:
        """Before anyone can log on: roll sessions whose day ended while down, resume every other
        at the first MsgSeqNum the engine has not committed, withdraw quotes of absent solvers."""
        rolled = self.roller.reset_stale()
        comp_ids = [s.comp_id for s in self.settings.sessions]
        moved = resume_sequence_numbers(self.settings.gateway.comp_id, comp_ids, self.engine.progress,
                                        self.gateway_fix.store_created_at)
        self.engine.start()
        if rolled or moved:
            log.info("fix_sessions_recovered", rolled=rolled, resumed=moved)

    def stop(self) -> None:
        # Each worker stops before its FIX engine: a send racing a QuickFIX engine's
        # shutdown can touch a session the engine is tearing down.
        if self.broker:
            self.broker.stop()
            self.feed_poller.stop()
        self.screen.stop()
        self.roll_check.stop()
        self.reserves_job.stop()
        if self.memory_trim is not None:
            self.memory_trim.stop()
        self.credential_refresh.stop()
        self.worker.stop()
        self.gateway_fix.stop()
        if self.venue is not None:
            self.venue.stop()
        if self.relay:
            self.relay.stop()
        self.db_engine.dispose()
        log.info("stack_stopped")

    def balance(self, account: str, asset: str):
        with self.uow() as uow:
            return uow.ledger.balance(account, asset)
