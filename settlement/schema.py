"""Every table the program owns, on one metadata (Alembic compares against this)."""
from settlement import models_access, models_broker, models_reconciliation, models_reference  # noqa: F401
from settlement.models import Base

metadata = Base.metadata
