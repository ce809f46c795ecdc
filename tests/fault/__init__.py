"""The fault harness (tests/integration/test_fault_harness.py): real processes killed and restarted."""
