"""The gateway's QuickFIX acceptor application.

Callbacks arrive on QuickFIX's threads. Each inbound application message is
translated once, here, into a domain command and handed to the engine's
single thread; no SQL or slow work happens in a callback. Messages the
engine wants sent come back through `OutboundSender` on the engine's thread.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Protocol

import quickfix as fix
import structlog

from core.clock import Clock
from core.refusal import RejectReason
from core.types import SessionName
from gateway.domain import outbound as out
from gateway.domain.commands import Inbound, RequestQuote, SessionStatusChanged
from gateway.domain.policy import GatewayPolicy, Role
from gateway.engine_rejects import failure_reply
from gateway.fix import drop_copy_codec, execution_codec, order_codec, quote_codec
from gateway.fix.intake import Admission, IntakeGuard, IntakeLimits
from runtime.worker import CommandWorker, QueueFull
from transport.fix.application import (
    GuardedApplication,
    enable_session,
    logout_session,
    message_type,
    raw_bytes,
    send,
    session_label,
)
from transport.fix.dictionary import describe_tag
from transport.fix.errors import OTHER, FixDecodeError, MissingField
from transport.fix.rejects import CONDITIONALLY_REQUIRED_FIELD_MISSING, business_reject, session_reject
from transport.fix.roll import CreatedAt
from transport.fix.settings_builder import session_id

log = structlog.get_logger(__name__)

DEFAULT_INTAKE_LIMITS = IntakeLimits(messages_per_s=1000, burst=2000, queue_limit=1000)

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
    @property
    def ok(self) -> bool: ...

    @property
    def text(self) -> str: ...


class LogonCheck(Protocol):
    """Answers whether a Logon may proceed; must not touch SQL (it runs on QuickFIX's thread)."""

    def check(self, comp_id: str, username: str | bytes | None, password: str | bytes | None) -> LogonVerdict: ...


BUSINESS_NOT_AUTHORIZED = 6  # BusinessRejectReason (380)
DROP_COPY_READ_ONLY_TEXT = "drop-copy session is read-only: application messages are refused"

# New RFQs are refused beyond this many queued commands: at ~1,000 commands/s a new RFQ waits
# at most a few hundred ms behind the queue instead of seconds (no congestion collapse).
DEFAULT_ADMISSION_BACKLOG = 64
OPEN_RFQS_SERVED_UNDER_LOAD = 4  # a requester with no more open RFQs than this is admitted even then
THROTTLE_LOG_INTERVAL_S = 1.0  # one warning a second per throttled session, not one per message


class GatewayApplication(GuardedApplication):
    def __init__(self, worker: CommandWorker, policy: GatewayPolicy, logon_check: LogonCheck | None = None,
                 intake: IntakeGuard | None = None, reply: Callable[[out.Outbound], None] | None = None,
                 gateway_comp_id: str = "RFQGW", admission_backlog: int = DEFAULT_ADMISSION_BACKLOG,
                 open_rfqs: Callable[[SessionName], int] = lambda session: 0) -> None:
        """`admission_backlog`: with more commands than this waiting for the engine, new RFQs are
        refused at once (AG 658=99 "throttled") while work already admitted -- quotes,
        acceptances, fill reports -- still queues: overload sheds new work, it never slows old work."""
        super().__init__("gateway.fix")
        assert admission_backlog >= 1
        self._admission_backlog = admission_backlog
        self._open_rfqs = open_rfqs  # the engine's count (a read of a dict from this thread: a snapshot)
        self._gateway_comp_id = gateway_comp_id
        self._worker = worker
        self._policy = policy
        self._logon_check = logon_check
        self._intake = intake or IntakeGuard(lambda session: DEFAULT_INTAKE_LIMITS)
        self._reply = reply or (lambda message: None)
        self._live: set[str] = set()
        self._live_lock = threading.Lock()
        self._forced_logouts: set[str] = set()  # sessions we logged out (flood, oversize): enable again after
        self._throttle_logged_at: dict[str, float] = {}
        # Set once QuickFIX's engine exists (it needs this application first): the sequence epoch source.
        self.sequence_epoch: CreatedAt = lambda session: None

    def live_sessions(self) -> set[str]:
        """Counterparties logged on right now (read by the logon screen on its own thread)."""
        with self._live_lock:
            return set(self._live)

    # -- session level ----------------------------------------------------------------
    def handle_from_admin(self, message: fix.Message, session: fix.SessionID) -> None:
        if message_type(message) != "A" or self._logon_check is None:
            return
        comp_id = session.getTargetCompID().getValue()
        verdict = self._logon_check.check(comp_id, raw_bytes(message, 553), raw_bytes(message, 554))
        if not verdict.ok:
            log.warning("logon_refused", session=session_label(session), text=verdict.text)
            raise fix.RejectLogon(verdict.text)  # QuickFIX answers with a Logout carrying this Text

    def handle_logon(self, session: fix.SessionID) -> None:
        comp_id = session.getTargetCompID().getValue()
        self._intake.reset(comp_id)
        with self._live_lock:
            self._live.add(comp_id)
        quickfix_session = fix.Session.lookupSession(session)
        next_expected = int(quickfix_session.getExpectedTargetNum()) if quickfix_session is not None else None
        # Ahead of any message of this connection in the session's lane: the engine learns here
        # whether the sequence numbers were reset (141=Y, the roll) before it counts messages.
        status = SessionStatusChanged(SessionName(comp_id), logged_on=True, sequence_epoch=self.sequence_epoch(session),
                                      next_expected_seq=next_expected)
        self._worker.submit(status, lane=comp_id, force=True)

    def handle_logout(self, session: fix.SessionID) -> None:
        comp_id = session.getTargetCompID().getValue()
        with self._live_lock:
            self._live.discard(comp_id)
            forced = comp_id in self._forced_logouts
            self._forced_logouts.discard(comp_id)
        if forced:
            enable_session(session)  # Session.logout() disabled it; it must accept the next Logon
        self._worker.submit(SessionStatusChanged(SessionName(comp_id), logged_on=False), lane=comp_id, force=True)

    def force_logout(self, comp_id: str, text: str) -> None:
        """Log a session out with `text` (flood, oversize message); it may log on again afterwards.

        QuickFIX's Session.logout() also disables the session until it is enabled again, and only
        a session that is logged on gets onLogout: so a session not (yet) logged on is not
        disabled at all (the screen just closes its connection), and every forced logout is
        undone when the connection is gone (`session_released`), whatever QuickFIX calls."""
        with self._live_lock:
            self._forced_logouts.add(comp_id)
        log.warning("session_forced_logout", session=comp_id, text=text)
        logout_session(session_id(self._gateway_comp_id, comp_id), text, only_if_logged_on=True)

    def session_released(self, comp_id: str) -> None:
        """The session's connection has ended (the logon screen says so): undo a forced logout."""
        with self._live_lock:
            forced = comp_id in self._forced_logouts
            self._forced_logouts.discard(comp_id)
        if forced:
            enable_session(session_id(self._gateway_comp_id, comp_id))

    # -- application messages ------------------------------------------------------------
    def handle_from_app(self, message: fix.Message, session: fix.SessionID) -> None:
        kind = message_type(message)
        sender = SessionName(session.getTargetCompID().getValue())
        if self._is_drop_copy(sender):
            log.info("drop_copy_message_refused", session=sender, msg_type=kind)
            send(business_reject(message, kind, BUSINESS_NOT_AUTHORIZED, DROP_COPY_READ_ONLY_TEXT), session)
            return
        command = self._decode(kind, message, sender, session)
        if command is None:
            return
        header = message.getHeader()
        inbound = Inbound(command, sender, int(header.getField(34)),
                          poss_dup=header.isSetField(43) and header.getField(43) == "Y")
        limits = self._intake.limits(sender)
        if isinstance(command, RequestQuote) and self._over_capacity(sender):
            self._refuse_throttled(command, sender, f"throttled: the gateway is at capacity ({len(self._worker)} "
                                                    f"messages waiting); new RFQs are refused until it catches up")
            return
        if self._intake.admit(sender) is Admission.ADMITTED:
            try:
                self._worker.submit(inbound, lane=sender, lane_limit=limits.queue_limit)
                return
            except QueueFull:
                text = f"throttled: {limits.queue_limit} messages of {sender} are already waiting; message refused"
        else:
            text = (f"throttled: more than {limits.messages_per_s:g} messages/s on {sender} "
                    f"(burst {limits.burst}); message refused")
        self._refuse_throttled(command, sender, text)

    def _over_capacity(self, sender: SessionName) -> bool:
        """Shed a new RFQ when the engine is behind, but never a quiet requester's: one with nothing
        waiting in its lane and at most a few RFQs open keeps being served (no one starves another)."""
        if len(self._worker) <= self._admission_backlog:
            return False
        return self._worker.depth(sender) > 0 or self._open_rfqs(sender) > OPEN_RFQS_SERVED_UNDER_LOAD

    def _decode(self, kind: str, message: fix.Message, sender: SessionName, session: fix.SessionID) -> object | None:
        """The message as a command, or None after answering it with the reject that says what is wrong."""
        decoder = self._quote_cancel_decoder(sender) if kind == "Z" else DECODERS.get(kind)
        if decoder is None:
            raise fix.UnsupportedMessageType()
        try:
            return decoder(message, sender)
        except MissingField as error:
            reject = business_reject(message, kind, CONDITIONALLY_REQUIRED_FIELD_MISSING,
                                     f"Conditionally Required Field Missing ({error.tag}): "
                                     f"tag {describe_tag(error.tag)} is required")
        except FixDecodeError as error:
            reject = session_reject(message, kind, error.tag, error.session_reject_reason, error.text)
        except Exception:  # noqa: BLE001 - fail closed: answer, never drop silently
            log.exception("fix_decode_failed", session=session_label(session), msg_type=kind)
            reject = session_reject(message, kind, None, OTHER, "the message could not be read and was refused")
        log.debug("fix_message_refused", session=session_label(session), msg_type=kind)
        send(reject, session)
        return None

    def _refuse_throttled(self, command: object, sender: str, text: str) -> None:
        now_s = time.monotonic()
        if now_s - self._throttle_logged_at.get(sender, 0.0) >= THROTTLE_LOG_INTERVAL_S:
            self._throttle_logged_at[sender] = now_s
            log.warning("session_throttled", session=sender, text=text)
        for reply in failure_reply(command, RejectReason.THROTTLED, text):
            self._reply(reply)

    def _is_drop_copy(self, sender: SessionName) -> bool:
        party = self._policy.counterparty(sender)
        return party is not None and party.role is Role.DROP_COPY

    def _quote_cancel_decoder(self, sender: SessionName) -> Callable[[fix.Message, SessionName], object]:
        """QuoteCancel means 'withdraw my quote' from a solver and 'withdraw my RFQ' from a requester."""
        party = self._policy.counterparty(sender)
        as_solver = party is not None and party.role.can_quote() and not party.role.can_request()
        return lambda message, who: quote_codec.decode_quote_cancel(message, who, as_solver)


SEND_FAILURE_LOG_INTERVAL_S = 1.0


class OutboundSender:
    """Renders the engine's outbound messages as FIX and queues them on the right session."""

    def __init__(self, gateway_comp_id: str, clock: Clock) -> None:
        self._comp_id = gateway_comp_id
        self._clock = clock
        self._failures: dict[str, tuple[float, int]] = {}  # session -> (last logged at, unlogged failures)
        self._lock = threading.Lock()
        self._session_ids: dict[str, fix.SessionID] = {}  # one per counterparty: bounded by the configured sessions

    def __call__(self, message: out.Outbound) -> None:
        fix_message = self.render(message, self._clock.now())
        if not send(fix_message, self._session_id(message.to)):
            self._send_failed(message)

    def _session_id(self, to: str) -> fix.SessionID:
        found = self._session_ids.get(to)
        if found is None:
            found = self._session_ids[to] = session_id(self._comp_id, to)
        return found

    def resend(self, message: out.Outbound) -> None:
        """A message that may have been sent before (the FIX outbox after a crash): PossResend 97=Y,
        so the counterparty checks its ids (ExecID, QuoteID) before acting on it again."""
        fix_message = self.render(message, self._clock.now())
        fix_message.getHeader().setField(fix.PossResend(True))
        if not send(fix_message, self._session_id(message.to)):
            self._send_failed(message)

    def _send_failed(self, message: out.Outbound) -> None:
        """Logged at most once a second per session (a session gone mid-flood fails thousands of sends)."""
        now_s = time.monotonic()
        with self._lock:
            logged_at, missed = self._failures.get(message.to, (0.0, 0))
            if now_s - logged_at < SEND_FAILURE_LOG_INTERVAL_S:
                self._failures[message.to] = (logged_at, missed + 1)
                return
            self._failures[message.to] = (now_s, 0)
        log.warning("fix_send_failed", session=message.to, message=type(message).__name__, also_failed=missed)

    @staticmethod
    def render(message: out.Outbound, now: datetime) -> fix.Message:
        match message:
            case out.ForwardQuoteRequest():
                return quote_codec.encode_forward_request(message)
            case out.RejectQuoteRequest():
                return quote_codec.encode_reject(message)
            case out.PresentQuote():
                return quote_codec.encode_present_quote(message)
            case out.QuoteStatusReport():
                return quote_codec.encode_quote_status(message)
            case out.NotifyQuoteAccepted():
                return quote_codec.encode_acceptance(message)
            case out.RequesterReport():
                return execution_codec.encode_requester_report(message, now)
            case out.BusinessReject():
                return execution_codec.encode_business_reject(message)
            case out.ExecutionAck():
                return execution_codec.encode_execution_ack(message)
            case out.DropCopyReport():
                return drop_copy_codec.encode_drop_copy(message, now)
            case out.OrderCancelReject():
                status = execution_codec.order_status_code(message.status, Decimal(0), Decimal(1))
                return order_codec.encode_cancel_reject(message, status)
        raise AssertionError(f"no FIX rendering for {type(message).__name__}")
