"""Fake provider clouds (aiohttp apps) for tests, development and benchmarks."""

from typing import NamedTuple


class Answer(NamedTuple):
    """One request a simulator answered: when (by its clock), what, and how.

    Status 499 (as nginx logs it): the client closed the connection first.
    """

    at: float
    method: str
    path: str
    status: int
