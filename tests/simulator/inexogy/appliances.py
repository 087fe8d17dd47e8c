"""The appliances inexogy's disaggregation finds in a meter's load curve.

Each appliance runs on a fixed schedule of quarter hours, so its energy per
quarter and its runs are pure functions of the clock. The demo mix on the
two-way electricity meter (base load, fridge cycles, a heat pump at night,
the washing machine in the morning, the dishwasher in the evening) adds up
to at most 575,000,000 units (1e-10 kWh) a quarter, below the meter's
import of 750,000,000.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

QUARTER_MS = 900_000


class Missing(StrEnum):
    """What the cloud answers for a meter without disaggregation (undocumented)."""

    EMPTY = "empty"  # [] from /devices, {} and [] from the others
    NOT_FOUND = "404"
    REFUSED = "400"


@dataclass(frozen=True)
class SimAppliance:
    """An appliance running ``length`` quarters every ``period``, from ``offset``.

    ``per_quarter`` is its energy in each running quarter (1e-10 kWh); a
    period of 1 runs always (the base load, which has no runs of its own).
    """

    kind: str  # the API's type: DISHWASHER
    german: str  # the name the 2020 example keys /disaggregation by
    number: int
    per_quarter: int
    period: int = 1
    offset: int = 0
    length: int = 1

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.number}"

    @property
    def german_name(self) -> str:
        return f"{self.german}-{self.number}"

    def energy(self, quarter: int) -> int:
        """Energy in the quarter with this index (epoch ms // QUARTER_MS)."""
        running = (quarter - self.offset) % self.period < self.length
        return self.per_quarter if running else 0

    def runs(self, first: int, last: int) -> Iterator[tuple[int, int]]:
        """The (first, last + 1) quarters of each run that begins in [first, last]."""
        if self.period == 1:
            return
        begin = first + (self.offset - first) % self.period
        while begin <= last:
            yield begin, begin + self.length
            begin += self.period


def demo_appliances() -> list[SimAppliance]:
    """The two-way electricity meter's appliances (quarters of a UTC day)."""
    return [
        SimAppliance("BASE_LOAD", "Grundlast", 1, 125_000_000),
        SimAppliance("REFRIGERATOR", "Kühlschrank", 1, 200_000_000, 4, 1, 2),
        SimAppliance("HEAT_PUMP", "Wärmepumpe", 1, 250_000_000, 96, 0, 24),
        SimAppliance("WASHING_MACHINE", "Waschmaschine", 1, 150_000_000, 96, 32, 6),
        SimAppliance("DISHWASHER", "Spülmaschine", 1, 200_000_000, 96, 76, 4),
    ]


def quarters(
    appliances: list[SimAppliance], start: int, end: int, german: bool
) -> dict[str, dict[str, int]]:
    """What /disaggregation answers for quarters starting in [start, end]."""
    first = -(-start // QUARTER_MS)
    return {
        str(quarter * QUARTER_MS): {
            (a.german_name if german else a.name): a.energy(quarter) for a in appliances
        }
        for quarter in range(first, end // QUARTER_MS + 1)
    }


def activities(
    appliances: list[SimAppliance], start: int, end: int, published: int
) -> list[dict[str, Any]]:
    """What /activities answers: runs beginning in [start, end], ended by then."""
    found = []
    first = -(-start // QUARTER_MS)  # the first quarter that begins at or after start
    for index, appliance in enumerate(appliances, 1):
        for begin, stop in appliance.runs(first, end // QUARTER_MS):
            if stop * QUARTER_MS > published:
                continue
            found.append(
                {
                    "activityId": index * 10_000_000 + begin,
                    "beginTime": begin * QUARTER_MS,
                    "endTime": stop * QUARTER_MS,
                    "deviceId": index,
                    "deviceName": appliance.name,
                    "deviceType": appliance.kind,
                    "energy": appliance.per_quarter * (stop - begin),
                }
            )
    return sorted(found, key=lambda run: run["endTime"])
