"""Every table the program owns, on one metadata (Alembic compares against this).

Each component owns its tables; importing its models module registers them here."""
from broker import models as broker_models  # noqa: F401 - registers their tables
from db.base import Base
from gateway import liquidation_models  # noqa: F401
from gateway import models as gateway_models  # noqa: F401
from gateway.access import models as access_models  # noqa: F401
from gateway.rules import models as compliance_models  # noqa: F401
from ledger import models as ledger_models  # noqa: F401
from ledger import (
    models_equity,  # noqa: F401
    models_reserves,  # noqa: F401
)
from marketcal import models as calendar_models  # noqa: F401
from recon import models as recon_models  # noqa: F401

metadata = Base.metadata
