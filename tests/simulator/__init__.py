"""Fake provider clouds (aiohttp apps) for tests, development and benchmarks."""

from collections.abc import Iterable
from dataclasses import dataclass, field
import time
from typing import NamedTuple

# Stands for a total in a payload until the text replaces it with a number
# JSON cannot have.
NON_FINITE_MARK = "\u0000non-finite"


def clock_now() -> float:
    """Return the time a simulator runs on unless a test gives it a clock."""
    return time.time()  # looked up per call, so freezegun's patched time is honoured


class Answer(NamedTuple):
    """One request a simulator answered: when (by its clock), what, and how.

    Status 499 (as nginx logs it): the client closed the connection first.
    """

    at: float
    method: str
    path: str
    status: int


@dataclass
class HistoryWindow:
    """Where a cloud's hourly history ends: what its documentation leaves open.

    Times are epoch seconds. The default answers every hour up to and
    including `to`, as soon as the hour has ended.
    """

    # `to` itself is not answered.
    to_exclusive: bool = False
    # An hour is published this many seconds after it ended (not yet: later).
    delay: float = 0
    # Hours that are never published.
    missing: set[int] = field(default_factory=set)

    def answered(
        self, times: Iterable[int], end: int, now: float, unit: int = 1
    ) -> list[int]:
        """The times of a history request's grid that this cloud answers.

        `unit` is 1000 for a cloud counting in epoch milliseconds.
        """
        return [
            t
            for t in times
            if (t < end or (t == end and not self.to_exclusive))
            and t + self.delay * unit <= now
            and t // unit not in self.missing
        ]
