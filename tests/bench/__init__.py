"""Benchmarks: measured by scripts/bench, never part of the test run."""
