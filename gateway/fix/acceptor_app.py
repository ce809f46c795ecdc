"""The gateway's QuickFIX acceptor application.

Callbacks arrive on QuickFIX's threads. Each inbound application message is
translated once, here, into a domain command and handed to the engine's
single thread; no SQL or slow work happens in a callback. Messages the
engine wants sent come back through `OutboundSender` on the engine's thread.
"""
from __future__ import annotations

import threading
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import quickfix as fix
import structlog

from fixio.application import GuardedApplication, message_type, send, session_label
from fixio.errors import FixDecodeError, MissingField
from fixio.settings_builder import session_id
from gateway.domain import outbound as out
from gateway.domain.commands import SessionStatusChanged
from gateway.domain.policy import GatewayPolicy
from gateway.domain.types import SessionName
from gateway.fix import execution_codec, order_codec, quote_codec
from rfq_runtime.clock import Clock
from rfq_runtime.worker import CommandWorker, QueueFull

log = structlog.get_logger(__name__)

DECODERS = {
    "R": quote_codec.decode_quote_request,
    "S": quote_codec.decode_quote,
    "AJ": quote_codec.decode_quote_response,
    "8": execution_codec.decode_solver_report,
    "D": order_codec.decode_new_order,
    "F": order_codec.decode_cancel_request,
    "H": order_codec.decode_status_request,
}


class LogonVerdict(Protocol):
    ok: bool
    text: str


class LogonCheck(Protocol):
    """Answers whether a Logon may proceed; must not touch SQL (it runs on QuickFIX's thread)."""

    def check(self, comp_id: str, username: str | None, password: str | None) -> LogonVerdict: ...


class GatewayApplication(GuardedApplication):
    def __init__(self, worker: CommandWorker, policy: GatewayPolicy, logon_check: LogonCheck | None = None) -> None:
        super().__init__("gateway.fix")
        self._worker = worker
        self._policy = policy
        self._logon_check = logon_check
        self._live: set[str] = set()
        self._live_lock = threading.Lock()

    def live_sessions(self) -> set[str]:
        """Counterparties logged on right now (read by the logon screen on its own thread)."""
        with self._live_lock:
            return set(self._live)

    def handle_from_admin(self, message: fix.Message, session: fix.SessionID) -> None:
        if message_type(message) != "A" or self._logon_check is None:
            return
        comp_id = session.getTargetCompID().getValue()
        username = message.getField(553) if message.isSetField(553) else None
        password = message.getField(554) if message.isSetField(554) else None
        verdict = self._logon_check.check(comp_id, username, password)
        if not verdict.ok:
            log.warning("logon_refused", session=session_label(session), text=verdict.text)
            raise fix.RejectLogon(verdict.text)  # QuickFIX answers with a Logout carrying this Text

    def handle_logon(self, session: fix.SessionID) -> None:
        with self._live_lock:
            self._live.add(session.getTargetCompID().getValue())
        self._worker.submit(SessionStatusChanged(SessionName(session.getTargetCompID().getValue()), logged_on=True))

    def handle_logout(self, session: fix.SessionID) -> None:
        with self._live_lock:
            self._live.discard(session.getTargetCompID().getValue())
        self._worker.submit(SessionStatusChanged(SessionName(session.getTargetCompID().getValue()), logged_on=False))

    def handle_from_app(self, message: fix.Message, session: fix.SessionID) -> None:
        kind = message_type(message)
        sender = SessionName(session.getTargetCompID().getValue())
        decoder = self._quote_cancel_decoder(sender) if kind == "Z" else DECODERS.get(kind)
        if decoder is None:
            raise fix.UnsupportedMessageType()
        try:
            command = decoder(message, sender)
        except MissingField as error:
            log.info("fix_missing_field", session=session_label(session), msg_type=kind, tag=error.tag)
            raise fix.FieldNotFound(error.tag) from None
        except FixDecodeError as error:
            log.info("fix_bad_field", session=session_label(session), msg_type=kind, tag=error.tag,
                     reason=error.reason)
            raise fix.IncorrectTagValue(error.tag) from None
        try:
            self._worker.submit(command)
        except QueueFull:
            # Back-pressure: refuse the message at the session level rather than queue without bound.
            log.error("engine_saturated", session=session_label(session), msg_type=kind)
            raise fix.UnsupportedMessageType() from None


    def _quote_cancel_decoder(self, sender: SessionName):
        """QuoteCancel means 'withdraw my quote' from a solver and 'withdraw my RFQ' from a requester."""
        party = self._policy.counterparty(sender)
        as_solver = party is not None and party.role.can_quote() and not party.role.can_request()
        return lambda message, who: quote_codec.decode_quote_cancel(message, who, as_solver)


class OutboundSender:
    """Renders the engine's outbound messages as FIX and queues them on the right session."""

    def __init__(self, gateway_comp_id: str, clock: Clock) -> None:
        self._comp_id = gateway_comp_id
        self._clock = clock

    def __call__(self, message: out.Outbound) -> None:
        fix_message = self.render(message, self._clock.now())
        if not send(fix_message, session_id(self._comp_id, message.to)):
            log.warning("fix_send_failed", session=message.to, message=type(message).__name__)

    @staticmethod
    def render(message: out.Outbound, now: datetime) -> fix.Message:
        match message:
            case out.ForwardQuoteRequest():
                return quote_codec.encode_forward_request(message)
            case out.RejectQuoteRequest():
                return quote_codec.encode_reject(message)
            case out.PresentQuote():
                return quote_codec.encode_present_quote(message)
            case out.QuoteStatus():
                return quote_codec.encode_quote_status(message)
            case out.NotifyQuoteAccepted():
                return quote_codec.encode_acceptance(message)
            case out.RequesterReport():
                return execution_codec.encode_requester_report(message, now)
            case out.BusinessReject():
                return execution_codec.encode_business_reject(message)
            case out.OrderCancelReject():
                status = execution_codec.order_status_code(message.status, Decimal(0), Decimal(1))
                return order_codec.encode_cancel_reject(message, status)
        raise AssertionError(f"no FIX rendering for {type(message).__name__}")
