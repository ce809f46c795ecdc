"""Reference data: instruments, market calendar, accounts, entities and policy rules."""
from settlement.models import Base  # noqa: F401
