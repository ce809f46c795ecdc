"""Access control: session credentials, operator commands and solver status.

The operator CLI runs in another process than the gateway, so its requests travel through
`operator_commands`; `solver_status` is the durable on/off switch the engine reloads at start.
migrations/versions/0003_access_control.py creates exactly these tables.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from db.base import NEVER_REUSE_IDS as _NEVER_REUSE_IDS
from db.base import Base
from db.base import one_of as _one_of
from db.types import UtcDateTime

# set_broker_margin is recorded already applied (the broker reads broker_parameters itself): an audit row.
OPERATOR_COMMANDS = ("disable_solver", "enable_solver", "set_broker_margin")
COMP_ID_LENGTH = 64
USERNAME_LENGTH = 64
REASON_LENGTH = 256


class SessionCredentialRow(Base):
    """One FIX session's logon credentials; the password only as an encoded salted scrypt hash."""

    __tablename__ = "session_credentials"

    comp_id: Mapped[str] = mapped_column(String(COMP_ID_LENGTH), primary_key=True)
    username: Mapped[str] = mapped_column(String(USERNAME_LENGTH))
    password_hash: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())


class OperatorCommandRow(Base):
    """A request from the operator CLI to the running engine; applied_at is null until applied."""

    __tablename__ = "operator_commands"
    __table_args__ = (
        CheckConstraint(_one_of("command", OPERATOR_COMMANDS), name="command"),
        _NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    command: Mapped[str] = mapped_column(String(32))
    comp_id: Mapped[str] = mapped_column(String(COMP_ID_LENGTH))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime())
    requested_by: Mapped[str] = mapped_column(String(64))
    # The engine polls for rows with no applied_at: the index keeps that cheap as history grows.
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime(), index=True)
    result: Mapped[str | None] = mapped_column(Text)


class SolverStatusRow(Base):
    """Whether a solver session receives RFQs; no row means enabled."""

    __tablename__ = "solver_status"

    comp_id: Mapped[str] = mapped_column(String(COMP_ID_LENGTH), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    changed_at: Mapped[datetime] = mapped_column(UtcDateTime())
    reason: Mapped[str | None] = mapped_column(String(REASON_LENGTH))
