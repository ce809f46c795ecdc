"""`rfq-gateway bench`: the gateway under load from separate QuickFIX processes (README "Benchmark")."""
