"""Every table the program owns, on one metadata (Alembic compares against this)."""
from settlement import models_access, models_reference  # noqa: F401 - registers their tables
from settlement.models import Base

metadata = Base.metadata
