"""A QuickFIX Application base that never lets a Python error kill the process.

QuickFIX's Python binding calls Py_Exit(1) when a callback raises anything but
the FIX exception types it knows (FieldNotFound, IncorrectTagValue, RejectLogon,
UnsupportedMessageType, DoNotSend...). Every callback is therefore guarded:
those FIX exceptions pass through so QuickFIX can reject; anything else is
logged. Swallowing is only safe where it refuses: an error while checking a
Logon (fromAdmin of 35=A) becomes RejectLogon, so a broken check never lets a
Logon through.
"""
from __future__ import annotations

import quickfix as fix
import structlog

PASS_THROUGH = (
    fix.FieldNotFound,
    fix.IncorrectDataFormat,
    fix.IncorrectTagValue,
    fix.UnsupportedMessageType,
    fix.RejectLogon,
    fix.DoNotSend,
)


def session_label(session_id: fix.SessionID) -> str:
    return f"{session_id.getSenderCompID().getValue()}->{session_id.getTargetCompID().getValue()}"


class GuardedApplication(fix.Application):
    """Subclasses override the handle_* methods, never the raw callbacks."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.log = structlog.get_logger(name)

    # -- hooks for subclasses -------------------------------------------------
    def handle_create(self, session_id: fix.SessionID) -> None: ...
    def handle_logon(self, session_id: fix.SessionID) -> None: ...
    def handle_logout(self, session_id: fix.SessionID) -> None: ...
    def handle_to_admin(self, message: fix.Message, session_id: fix.SessionID) -> None: ...
    def handle_from_admin(self, message: fix.Message, session_id: fix.SessionID) -> None: ...
    def handle_to_app(self, message: fix.Message, session_id: fix.SessionID) -> None: ...
    def handle_from_app(self, message: fix.Message, session_id: fix.SessionID) -> None: ...

    # -- raw QuickFIX callbacks -------------------------------------------------
    def onCreate(self, session_id):  # noqa: N802 (QuickFIX's name)
        self._guard("onCreate", session_id, self.handle_create, session_id)

    def onLogon(self, session_id):  # noqa: N802
        self._guard("onLogon", session_id, self.handle_logon, session_id)

    def onLogout(self, session_id):  # noqa: N802
        self._guard("onLogout", session_id, self.handle_logout, session_id)

    def toAdmin(self, message, session_id):  # noqa: N802
        self._guard("toAdmin", session_id, self.handle_to_admin, message, session_id)

    def fromAdmin(self, message, session_id):  # noqa: N802
        try:
            self.handle_from_admin(message, session_id)
        except PASS_THROUGH:
            raise
        except Exception:  # noqa: BLE001
            self.log.exception("fix_callback_failed", callback="fromAdmin", session=session_label(session_id))
            if is_logon(message):
                raise fix.RejectLogon("logon check failed") from None  # fail closed

    def toApp(self, message, session_id):  # noqa: N802
        self._guard("toApp", session_id, self.handle_to_app, message, session_id)

    def fromApp(self, message, session_id):  # noqa: N802
        self._guard("fromApp", session_id, self.handle_from_app, message, session_id)

    def _guard(self, callback: str, session_id: fix.SessionID, handler, *args) -> None:
        try:
            handler(*args)
        except PASS_THROUGH:
            raise
        except Exception:  # noqa: BLE001 - a Python error must not Py_Exit the process
            self.log.exception("fix_callback_failed", callback=callback, session=session_label(session_id))


def message_type(message: fix.Message) -> str:
    return message.getHeader().getField(35)


def is_logon(message: fix.Message) -> bool:
    try:
        return message_type(message) == "A"
    except Exception:  # noqa: BLE001 - a message we cannot even type is treated as a Logon: refuse it
        return True


def raw_bytes(message: fix.Message, tag: int) -> bytes | None:
    """A body field's bytes as they arrived: QuickFIX hands non-UTF-8 bytes over as lone surrogates."""
    if not message.isSetField(tag):
        return None
    return str(message.getField(tag)).encode("utf-8", "surrogateescape")


def logout_session(session_id: fix.SessionID, text: str, only_if_logged_on: bool = False) -> bool:
    """Send a Logout with `text` and disconnect; QuickFIX disables the session until `enable_session`."""
    session = fix.Session.lookupSession(session_id)
    if session is None or (only_if_logged_on and not session.isLoggedOn()):
        return False
    session.logout(text)
    return True


def enable_session(session_id: fix.SessionID) -> None:
    """Let a session that `logout_session` ended accept Logons again."""
    session = fix.Session.lookupSession(session_id)
    if session is not None:
        session.logon()


def send(message: fix.Message, session_id: fix.SessionID) -> bool:
    """Queue a message on a session; False when the session is unknown or not logged on."""
    try:
        return bool(fix.Session.sendToTarget(message, session_id))
    except fix.SessionNotFound:
        return False


def add_logon_credentials(message: fix.Message, credentials: tuple[str, str] | None) -> None:
    """Username (553) and Password (554) on an outgoing Logon, when the session has them."""
    if credentials is None or message_type(message) != "A":
        return
    username, password = credentials
    message.setField(fix.StringField(553, username))
    message.setField(fix.StringField(554, password))
