"""Access control of the gateway: FIX logon credentials and operator commands."""
from gateway.access.credentials import (
    CredentialCache,
    CredentialStore,
    LogonVerdict,
    StoredCredential,
    hash_password,
    verify_password,
)
from gateway.access.operator import (
    OperatorCommand,
    OperatorCommandKind,
    OperatorQueue,
    SolverStatus,
    SolverStatusStore,
)

__all__ = [
    "CredentialCache",
    "CredentialStore",
    "LogonVerdict",
    "OperatorCommand",
    "OperatorCommandKind",
    "OperatorQueue",
    "SolverStatus",
    "SolverStatusStore",
    "StoredCredential",
    "hash_password",
    "verify_password",
]
