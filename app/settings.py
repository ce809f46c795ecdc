"""Application settings: config/rfq.toml, overridden by environment variables."""
from __future__ import annotations

import os
from datetime import datetime, time
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, TomlConfigSettingsSource

from core.types import SessionName
from gateway.domain.policy import Counterparty, GatewayPolicy, Role
from gateway.rules.compliance import ClientCategory, PolicyEffect, PolicyScope
from ledger.margin import AssetMargin, MarginParameters
from marketcal.sessions import MarketSession
from transport.fix.roll import WEEKDAYS, RollSchedule, parse_weekdays
from transport.fix.settings_builder import SessionOptions

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = PROJECT_ROOT / "config" / "rfq.toml"


class StrictModel(BaseModel):
    """Every configuration section: an unknown key is an error, never silently ignored."""

    model_config = ConfigDict(extra="forbid")


class SessionLimits(StrictModel):
    """Per-session limits at the FIX boundary (README "Security and limits")."""

    messages_per_s: float = Field(default=1000.0, gt=0)  # inbound application messages; Coinbase Intl: 800/s
    burst: int = Field(default=2000, ge=1)  # messages allowed at once above the rate
    max_open_rfqs: int = Field(default=500, ge=1)  # a requester's RFQs not yet ended
    max_message_bytes: int = Field(default=8192, ge=256)  # a larger inbound message logs the session out
    queue_limit: int = Field(default=1000, ge=1)  # this session's messages waiting for the engine
    flood_window_s: float = Field(default=5.0, gt=0)  # refused at ~2x the rate this long: logged out


class SessionLimitOverrides(StrictModel):
    """Any of SessionLimits' fields, for one session; unset fields take the gateway's defaults."""

    messages_per_s: float | None = Field(default=None, gt=0)
    burst: int | None = Field(default=None, ge=1)
    max_open_rfqs: int | None = Field(default=None, ge=1)
    max_message_bytes: int | None = Field(default=None, ge=256)
    queue_limit: int | None = Field(default=None, ge=1)
    flood_window_s: float | None = Field(default=None, gt=0)


Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
assert tuple(Weekday.__args__) == WEEKDAYS  # type: ignore[attr-defined]


class FixScheduleSection(StrictModel):
    """The FIX trading day (README "Sessions and recovery"): sessions roll at `roll_time` in
    `time_zone` on each of `roll_days` -- sequence numbers back to 1, stored messages dropped.
    Between two rolls messages are kept for resend: the retention is one roll period."""

    roll_time: time = time(17, 0)  # 17:00 New York: Coinbase Prime's daily roll, the US equity day's end
    time_zone: str = "America/New_York"
    roll_days: list[Weekday] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]  # ["sun"]: weekly (7-day retention); []: never by schedule

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        RollSchedule(time(0), value, frozenset())  # raises for an unknown zone
        return value

    def schedule(self) -> RollSchedule:
        return RollSchedule(self.roll_time, self.time_zone, parse_weekdays(self.roll_days))


class FixSessionOverrides(StrictModel):
    """One session's departures from [fix]; unset fields take the [fix] values."""

    heartbeat_s: int | None = Field(default=None, ge=1, le=300)
    reset_on_logon: bool | None = None  # True: every Logon starts at 1 (for counterparties that send 141=Y)
    reset_on_logout: bool | None = None
    reset_on_disconnect: bool | None = None


class FixSection(StrictModel):
    """Defaults of every FIX session (the gateway's, the broker connector's, the venue's)."""

    heartbeat_s: int = Field(default=30, ge=1, le=300)  # what our initiators propose (Kalshi: 30)
    reset_on_logon: bool = False  # persistent sessions by default (KalshiRT, Kraken 141=N)
    reset_on_logout: bool = False
    reset_on_disconnect: bool = False
    store: Literal["file", "memory"] = "file"  # memory: nothing survives a restart (benchmarks only)
    # Offsets of the newest stored messages each session keeps in memory (QuickFIX/J's
    # FileStoreMaxCachedMsgs); older ones are read from the store's index file on resend. 0: all.
    store_max_cached_messages: int = Field(default=10_000, ge=0, le=10_000_000)
    schedule: FixScheduleSection = FixScheduleSection()

    def options(self, overrides: FixSessionOverrides | None = None) -> SessionOptions:
        merged = self.model_copy(update=overrides.model_dump(exclude_none=True)) if overrides else self
        return SessionOptions(heartbeat_s=merged.heartbeat_s, reset_on_logon=merged.reset_on_logon,
                              reset_on_logout=merged.reset_on_logout, reset_on_disconnect=merged.reset_on_disconnect)


class TlsSection(StrictModel):
    """TLS on the public FIX port, terminated by the logon screen."""

    certificate: Path  # PEM certificate chain
    key: Path  # PEM private key
    minimum_version: Literal["TLSv1.2", "TLSv1.3"] = "TLSv1.2"


class GatewaySection(StrictModel):
    host: str = "127.0.0.1"
    port: int = 9876
    comp_id: str = "RFQGW"
    require_logon_password: bool = True  # Logon must carry Username (553) and Password (554)
    logon_timeout_s: float = Field(default=2.0, gt=0)  # a first message not complete by then is answered and closed
    limits: SessionLimits = SessionLimits()
    tls: TlsSection | None = None
    settlement_timeout_s: float = 300.0  # an accepted RFQ with no execution report by then is failed, holds voided
    # Admission control: with more messages than this waiting for the engine, new RFQs are refused at
    # once (AG 658=99 "throttled") so the RFQs already admitted finish on time.
    admission_backlog: int = Field(default=64, ge=1, le=100_000)
    submission_window_s: float = 60.0
    acceptance_window_s: float = 120.0


class VenueSection(StrictModel):
    host: str = "127.0.0.1"
    port: int = 9877
    comp_id: str = "VENUE"
    seed: int = 7
    tick_interval_s: float = 0.5
    latency_s: float = 0.0
    # Share of fills improved beyond the NBBO touch (dark-pool midpoint or wholesaler sub-penny).
    price_improvement_probability: Decimal = Field(default=Decimal("0.10"), ge=0, le=1)
    # Market data on MQTT (only when MQTT_URL is set): max updates per second per symbol, latest wins.
    md_publish_rate_hz: float = Field(default=4.0, gt=0)
    md_topic_prefix: str = "md"  # topics {prefix}/{symbol}/{venue-slug} and {prefix}/{symbol}/nbbo
    # Shares held at the venue's custody before any fill: account -> symbol -> quantity.
    opening_positions: dict[str, dict[str, Decimal]] = {}


class BrokerSection(StrictModel):
    comp_id: str = "BROKER"
    account: str = "BROKER"
    margin_bps: Decimal = Decimal(20)  # default for every market session; override at run time per session
    aggression_bps: Decimal = Decimal(0)
    quote_validity_s: float = 30.0
    price_staleness_s: float = 2.0  # a reference price older than this is not used to quote
    feed_poll_interval_s: float = 0.2
    order_poll_interval_s: float = 5.0  # OrderStatusRequest for a working order with no news
    order_timeout_s: float = 30.0  # OrderCancelRequest for an order still working
    withdraw_delay_s: float = 1.0  # the simulated custody's time to confirm a token withdrawal
    borrow_capacity_usdc: Decimal = Field(default=Decimal(0), ge=0)  # USDC it may owe beyond its balance when quoting


class ConsoleSection(StrictModel):
    """The operator console and /metrics (README "Operator console"), served by `serve` and `console`."""

    enabled: bool = True  # `serve` (and `demo --keep-console`) start it
    host: str = "127.0.0.1"  # loopback by default: put a TLS proxy in front to reach it from elsewhere
    port: int = Field(default=9880, ge=0, le=65535)  # 0: any free port
    username: str = "operator"
    password: SecretStr | None = None  # RFQ_CONSOLE__PASSWORD; without one the console does not start
    refresh_s: float = Field(default=1.0, gt=0)  # re-read the database at least this often (another process's changes)
    secure_cookie: bool = False  # set True behind HTTPS


class SessionSection(StrictModel):
    comp_id: str
    role: Role
    account: str
    username: str | None = None
    password: SecretStr | None = None  # stored once as a salted hash; change with `admin set-password`
    limits: SessionLimitOverrides = SessionLimitOverrides()
    fix: FixSessionOverrides = FixSessionOverrides()


class InstrumentSection(StrictModel):
    symbol: str
    reference_price: Decimal
    cusip: str | None = None
    tick: Decimal = Decimal("0.01")
    # External identifiers; None: derived from the symbol (see gateway.rules.reference).
    pyth_symbol: str | None = None
    dxfeed_symbol: str | None = None
    venue_symbol: str | None = None
    sessions: list[MarketSession] | None = None  # None: every session; else only these
    submission_window_s: float | None = None  # None: the [gateway] default
    acceptance_window_s: float | None = None


class QuantityLimitSection(StrictModel):
    symbol: str | None = None  # None: the default for symbols without their own limits
    session: MarketSession
    min_quantity: Decimal
    max_quantity: Decimal
    step: Decimal


class EntitySection(StrictModel):
    id: str
    name: str
    lei: str
    fatca_reportable: bool = False
    category: ClientCategory


class AccountSection(StrictModel):
    account: str
    stocks_enabled: bool = False
    jurisdiction: str
    entity: str | None = None  # an [[entities]] id


class PolicyRuleSection(StrictModel):
    jurisdiction: str
    scope: PolicyScope = PolicyScope.STOCK
    target: str  # a symbol or "@stocks"
    effect: PolicyEffect


class CalendarSection(StrictModel):
    exchange: str = "XNYS"  # exchange_calendars code; its holidays seed market_holidays
    holiday_years: list[int] = [2026, 2027]


class FundingSection(StrictModel):
    account: str
    asset: str
    amount: Decimal


class ReportsSection(StrictModel):
    """Execution-quality report (`rfq-gateway report execution`): the reference's tiers."""

    significant_improvement_per_share: Decimal = Field(default=Decimal("0.01"), gt=0)  # dollars per share


class MarginAssetSection(StrictModel):
    """One collateral asset: weight(N) = min(base_weight, k / (1 + imf_factor x sqrt(N))), N its notional
    in USDC; imf/mmf its margin fractions (README "Collateral and margin")."""

    base_weight: Decimal = Field(default=Decimal("0.80"), ge=0, le=1)
    k: Decimal = Field(default=Decimal(1), gt=0)
    imf_factor: Decimal = Field(default=Decimal("0.0005"), ge=0)
    imf: Decimal = Field(default=Decimal("0.20"), gt=0, lt=1)
    mmf: Decimal = Field(default=Decimal("0.10"), ge=0, lt=1)

    @model_validator(mode="after")
    def _mmf_below_imf(self) -> MarginAssetSection:
        self.terms()  # ValueError (a validation error) unless 0 <= mmf < imf
        return self

    def terms(self) -> AssetMargin:
        return AssetMargin(self.base_weight, self.k, self.imf_factor, self.imf, self.mmf)


class MarginAccountSection(StrictModel):
    imf: Decimal | None = Field(default=None, gt=0, lt=1)
    mmf: Decimal | None = Field(default=None, ge=0, lt=1)


class MarginSection(StrictModel):
    """Stocks as collateral: margin buying, post-trade borrowing, liquidation by RFQ."""

    enabled: bool = False  # False: buys are paid from available USDC only, nothing is ever borrowed
    defaults: MarginAssetSection = MarginAssetSection()  # assets without their own entry
    assets: dict[str, MarginAssetSection] = {}
    accounts: dict[str, MarginAccountSection] = {}  # per-account IMF/MMF overrides
    mark_staleness_s: float = Field(default=10.0, gt=0)  # an older NBBO falls back to the last close
    monitor_interval_s: float = Field(default=5.0, gt=0)  # how often every borrowing account is re-checked
    liquidation_buffer: Decimal = Field(default=Decimal("0.05"), ge=0)  # sell this much more than the shortfall
    liquidation_price_band: Decimal = Field(default=Decimal("0.02"), ge=0, lt=1)  # never below mark x (1 - band)
    liquidation_retry_s: float = Field(default=30.0, gt=0)  # a conversion that found no quote is retried then
    escalate_after_attempts: int = Field(default=3, ge=1)  # unfilled conversions before an operator is alerted
    lending_pool_usdc: Decimal = Field(default=Decimal(0), ge=0)  # seeds the lending pool (and its capacity)
    liquidity_fund_usdc: Decimal = Field(default=Decimal(0), ge=0)
    lends: dict[str, Decimal] = {}  # account -> USDC it lends to the pool at start (redeemed before borrowing)

    def parameters(self) -> MarginParameters:
        return MarginParameters(
            default_asset=self.defaults.terms(),
            assets={symbol: section.terms() for symbol, section in self.assets.items()},
            account_imf={account: s.imf for account, s in self.accounts.items() if s.imf is not None},
            account_mmf={account: s.mmf for account, s in self.accounts.items() if s.mmf is not None},
        )


class ReservesSection(StrictModel):
    """Proof of reserves (README "Proof of reserves")."""

    interval_s: float = Field(default=3600.0, gt=0)  # the hourly job
    usdc_reserve_account: str = "usdc_reserve"  # the ledger owner holding the USDC backing user balances
    custody_account: str = "BROKER"  # the venue custody account whose positions back stock tokens


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="RFQ_", env_nested_delimiter="__", extra="forbid")

    data_dir: Path = Path("var")
    log_format: str = "console"
    database_url: str | None = Field(default=None, validation_alias=AliasChoices("DATABASE_URL", "RFQ_DATABASE_URL"))
    mqtt_url: str | None = Field(default=None, validation_alias=AliasChoices("MQTT_URL", "RFQ_MQTT_URL"))
    mqtt_topic_prefix: str = "rfq/events"
    # Run on a simulated wall clock that starts here (tests and demos outside market hours); unset: real time.
    simulated_start: datetime | None = None
    # Every this many seconds the process hands glibc's free heap pages back (runtime/memory.py); 0: never.
    memory_trim_interval_s: float = Field(default=30.0, ge=0)
    gateway: GatewaySection = GatewaySection()
    fix: FixSection = FixSection()
    venue: VenueSection = VenueSection()
    broker: BrokerSection = BrokerSection()
    console: ConsoleSection = ConsoleSection()
    sessions: list[SessionSection] = []
    instruments: list[InstrumentSection] = []
    funding: list[FundingSection] = []
    quantity_limits: list[QuantityLimitSection] = []
    entities: list[EntitySection] = []
    accounts: list[AccountSection] = []
    policy_rules: list[PolicyRuleSection] = []
    calendar: CalendarSection = CalendarSection()
    reports: ReportsSection = ReportsSection()
    margin: MarginSection = MarginSection()
    reserves: ReservesSection = ReservesSection()

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource, dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource):
        config_file = Path(os.environ.get("RFQ_CONFIG", DEFAULT_CONFIG))
        toml = TomlConfigSettingsSource(settings_cls, toml_file=config_file)
        return init_settings, env_settings, toml

    def resolved_data_dir(self) -> Path:
        folder = self.data_dir if self.data_dir.is_absolute() else Path.cwd() / self.data_dir
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.resolved_data_dir() / 'rfq.sqlite3'}"

    def credentials_of(self, comp_id: str) -> tuple[str, str] | None:
        """The configured (development) username and password of a session, if it has one."""
        section = next((s for s in self.sessions if s.comp_id == comp_id), None)
        if section is None or section.password is None:
            return None
        return section.username or comp_id, section.password.get_secret_value()

    def limits_for(self, comp_id: str) -> SessionLimits:
        """The gateway's default limits with the session's own overrides applied."""
        section = next((s for s in self.sessions if s.comp_id == comp_id), None)
        if section is None:
            return self.gateway.limits
        overrides = section.limits.model_dump(exclude_none=True)
        return self.gateway.limits.model_copy(update=overrides)

    def fix_options_for(self, comp_id: str) -> SessionOptions:
        """The FIX session policy of one counterparty: [fix] with its own `fix = {...}` applied."""
        section = next((s for s in self.sessions if s.comp_id == comp_id), None)
        return self.fix.options(section.fix if section is not None else None)

    def policy(self) -> GatewayPolicy:
        return GatewayPolicy(
            symbols=frozenset(instrument.symbol for instrument in self.instruments),
            counterparties={
                SessionName(section.comp_id): Counterparty(SessionName(section.comp_id), section.role, section.account,
                                                           self.limits_for(section.comp_id).max_open_rfqs)
                for section in self.sessions
            },
            submission_window_s=self.gateway.submission_window_s,
            acceptance_window_s=self.gateway.acceptance_window_s,
            settlement_timeout_s=self.gateway.settlement_timeout_s,
        )
