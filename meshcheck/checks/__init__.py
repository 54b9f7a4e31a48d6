"""Checks: pure functions from what was read to a CheckResult, one module per layer."""
