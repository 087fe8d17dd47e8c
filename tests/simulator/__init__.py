"""Fake provider clouds (aiohttp apps) for tests, development and benchmarks."""
