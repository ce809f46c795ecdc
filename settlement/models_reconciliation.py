"""T+1 reconciliation: runs, their breaks, and custody position snapshots."""
from settlement.models import Base  # noqa: F401
