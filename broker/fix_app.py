"""The connector's QuickFIX initiator application: one session to the gateway
(as a solver), one to the venue. Callbacks only translate and enqueue; the
solver logic runs on the connector's own thread."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import quickfix as fix
import structlog

from broker import fix_codec
from broker.messages import (
    CancelOrder,
    ConnectorCommand,
    ExecutionToReport,
    GatewaySessionUp,
    MassStatusQuery,
    OrderToSend,
    QuoteToSend,
    StatusQuery,
    VenueSessionDone,
)
from core.clock import Clock
from runtime.worker import CommandWorker
from transport.fix import tags as t
from transport.fix.application import GuardedApplication, add_logon_credentials, message_type, send, session_label
from transport.fix.errors import FixDecodeError
from transport.fix.roll import SessionRoller, set_reset_flag
from transport.fix.settings_builder import session_id

log = structlog.get_logger(__name__)


class ConnectorApplication(GuardedApplication):
    def __init__(self, worker: CommandWorker, gateway_comp_id: str, venue_comp_id: str,
                 gateway_credentials: tuple[str, str] | None = None,
                 on_venue_logon: Callable[[], None] | None = None, roller: SessionRoller | None = None) -> None:
        super().__init__("broker.fix")
        self.roller = roller  # set once the engine exists: the next Logon after a roll asks for 141=Y
        self._worker = worker
        self._gateway = gateway_comp_id
        self._venue = venue_comp_id
        self._gateway_credentials = gateway_credentials
        self._on_venue_logon = on_venue_logon
        self.logged_on: set[str] = set()

    def handle_to_admin(self, message: fix.Message, session: fix.SessionID) -> None:
        if message_type(message) != "A":
            return
        if session.getTargetCompID().getValue() == self._gateway:
            add_logon_credentials(message, self._gateway_credentials)
        if self.roller is not None and self.roller.wants_reset(session):
            set_reset_flag(message)

    def handle_logon(self, session: fix.SessionID) -> None:
        target = session.getTargetCompID().getValue()
        self.logged_on.add(target)
        if target == self._venue and self._on_venue_logon is not None:
            self._on_venue_logon()
        if target == self._gateway:
            self._worker.submit(GatewaySessionUp())  # reports not yet acknowledged go again

    def handle_logout(self, session: fix.SessionID) -> None:
        self.logged_on.discard(session.getTargetCompID().getValue())

    def handle_from_app(self, message: fix.Message, session: fix.SessionID) -> None:
        kind, origin = message_type(message), session.getTargetCompID().getValue()
        try:
            command = self._translate(kind, origin, message)
        except FixDecodeError as error:
            log.warning("broker_bad_message", session=session_label(session), msg_type=kind, error=str(error))
            raise fix.IncorrectTagValue(error.tag) from None
        if command is not None:
            self._worker.submit(command)

    def _translate(self, kind: str, origin: str, message: fix.Message) -> ConnectorCommand | None:
        if origin == self._gateway and kind == "R":
            return fix_codec.decode_rfq(message)
        if origin == self._gateway and kind == "AJ":
            return fix_codec.decode_acceptance(message)
        if origin == self._gateway and kind == "BN":
            return fix_codec.decode_execution_ack(message)
        if origin == self._gateway and kind == "AI":
            return fix_codec.decode_quote_status(message)
        if origin == self._venue and kind == "8":
            return fix_codec.decode_venue_report(message)
        if (origin == self._venue and kind == "j" and message.isSetField(t.REF_MSG_TYPE)
                and message.getField(t.REF_MSG_TYPE) == "AF"):
            return VenueSessionDone()  # the venue has no orders of ours to report
        if kind in ("j", "9"):
            log.info("broker_status_message", origin=origin, msg_type=kind, text=_text(message))
            return None
        raise fix.UnsupportedMessageType()


def _text(message: fix.Message) -> str | None:
    text: str | None = message.getField(t.TEXT) if message.isSetField(t.TEXT) else None
    return text


class ConnectorSender:
    """Sends the solver's decisions on the right session (called on the connector's thread)."""

    def __init__(self, comp_id: str, gateway_comp_id: str, venue_comp_id: str, clock: Clock) -> None:
        self._to_gateway = session_id(comp_id, gateway_comp_id)
        self._to_venue = session_id(comp_id, venue_comp_id)
        self._clock = clock

    def quote(self, quote: QuoteToSend) -> None:
        self._send(fix_codec.encode_quote(quote), self._to_gateway)

    def order(self, order: OrderToSend) -> None:
        self._send(fix_codec.encode_order(order), self._to_venue)

    def status_query(self, query: StatusQuery) -> None:
        self._send(fix_codec.encode_status_query(query), self._to_venue)

    def cancel(self, cancel: CancelOrder) -> None:
        self._send(fix_codec.encode_cancel(cancel), self._to_venue)

    def mass_status(self, query: MassStatusQuery) -> None:
        self._send(fix_codec.encode_mass_status(query), self._to_venue)

    def execution(self, report: ExecutionToReport) -> None:
        now: datetime = self._clock.now()
        self._send(fix_codec.encode_execution(report, report.quote_resp_id, now), self._to_gateway)

    @staticmethod
    def _send(message: fix.Message, session: fix.SessionID) -> None:
        if not send(message, session):
            log.warning("broker_send_failed", session=session.toString())
