"""Every table the program owns, on one metadata (Alembic compares against this)."""
from settlement import (  # noqa: F401 - registers their tables
    models_access,
    models_broker,
    models_equity,
    models_reconciliation,
    models_reference,
)
from settlement.models import Base

metadata = Base.metadata
