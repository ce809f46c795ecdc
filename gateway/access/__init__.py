"""Access control of the gateway: FIX logon credentials (credentials.py) and operator commands
(operator.py), with their tables (models.py)."""
