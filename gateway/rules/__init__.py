"""The gateway's compliance rules (compliance.py: stocks flag, jurisdiction policy, LEI), their
reference tables (models.py) and SQL loader (store.py). Market hours and quantity limits are
marketcal's."""
