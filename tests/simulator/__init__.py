"""Fake provider clouds (aiohttp apps) for tests, development and benchmarks."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
import time
from typing import Any, NamedTuple, Protocol, Self, cast, overload

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


class _Wakes(Protocol):
    def _wake(self) -> None: ...


class Switch[T]:
    """A switch of a simulator that requests can be held by: a setting wakes them.

    The value is kept in the owner's attribute of the same name with an
    underscore in front (its __init__ sets it; the server changes it there
    without waking anyone), and ``convert`` makes it of its kind (a Fault from
    its value). What the switch does is its __doc__.
    """

    def __init__(self, doc: str, convert: Callable[[Any], T] | None = None) -> None:
        self.__doc__ = doc
        self._convert = convert
        self._name = ""

    def __set_name__(self, owner: type, name: str) -> None:
        self._name = f"_{name}"

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> Self: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object, owner: type | None = None) -> T | Self:
        return self if obj is None else cast(T, getattr(obj, self._name))

    def __set__(self, obj: _Wakes, value: T) -> None:
        setattr(
            obj, self._name, value if self._convert is None else self._convert(value)
        )
        obj._wake()
