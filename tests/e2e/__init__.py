"""Browser tests of a real Home Assistant with this integration (scripts/e2e)."""
