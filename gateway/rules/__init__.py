"""Trading rules of the RFQ gateway: market sessions, holidays, quantity limits and compliance.

market_hours and compliance are pure domain code; reference (imported explicitly, not from here)
seeds and loads them from the SQL reference tables.
"""
from core.refusal import Refusal
from gateway.rules.compliance import (
    STOCKS_GROUP,
    AccountProfile,
    ClientCategory,
    CompliancePolicy,
    Entity,
    PolicyEffect,
    PolicyRule,
    PolicyScope,
    lei_problem,
)
from marketcal.sessions import (
    EXCHANGE_TZ,
    Holiday,
    HolidayKind,
    InstrumentRules,
    MarketSession,
    QuantityLimits,
    SessionStatus,
    TradingCalendar,
    TradingRules,
)

__all__ = [
    "EXCHANGE_TZ",
    "STOCKS_GROUP",
    "AccountProfile",
    "ClientCategory",
    "CompliancePolicy",
    "Entity",
    "Holiday",
    "HolidayKind",
    "InstrumentRules",
    "MarketSession",
    "PolicyEffect",
    "PolicyRule",
    "PolicyScope",
    "QuantityLimits",
    "Refusal",
    "SessionStatus",
    "TradingCalendar",
    "TradingRules",
    "lei_problem",
]
