"""Access control: session credentials and operator commands."""
from settlement.models import Base  # noqa: F401
