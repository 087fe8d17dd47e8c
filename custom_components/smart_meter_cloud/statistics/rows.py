"""Hourly rows from meter totals: pure arithmetic, no Home Assistant state.

A row that starts at hour H holds the meter total at H + 1 h as `state` and
the consumption since the first imported hour as `sum`.
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
import math
from typing import Final

from homeassistant.components.recorder.models import StatisticData

from ..api.models import Quantity, Reading

_LOGGER = logging.getLogger(__name__)

HOUR: Final = timedelta(hours=1)
# A total this much below the last one (a fraction of it) is two sources'
# rounding, never a meter reset: it waits until the total passes the last.
JITTER: Final = 0.01
# Stored values come back as floats of the database: compare with a margin.
EPSILON: Final = 1e-9

# A stored hour: its start, the total at its end (state) and the sum.
type StoredRow = tuple[datetime, float, float]


@dataclass(frozen=True, slots=True)
class Anchor:
    """The end of the last imported hour: its total, and the sum up to it."""

    time: datetime
    total: float
    sum: float


def floor_hour(moment: datetime) -> datetime:
    """The whole hour at or before a moment."""
    return moment.replace(minute=0, second=0, microsecond=0)


def hourly_rows(
    anchor: Anchor | None,
    points: Mapping[datetime, float],
    most_per_hour: float = math.inf,
) -> tuple[list[StatisticData], Anchor | None]:
    """Turn totals at whole hours into hourly rows, continuing from `anchor`.

    Consumption between two totals more than an hour apart is spread evenly
    over the hours between them. A total of 0 or below the last one is a
    glitch if a later total comes back up, and so is a dip of less than
    `JITTER` of the total; if it stays lower the meter was reset or
    replaced, and the sum continues from the new base. A rise of
    more than `most_per_hour` an hour is a glitch if a later total comes
    back below it, and a new base if it stays. A drop or jump not yet
    confirmed by a later total waits for the next import.
    """
    ordered = sorted((t, v) for t, v in points.items() if t == floor_hour(t))
    later = _later(v for _, v in ordered)
    rows: list[StatisticData] = []
    for index, (time, total) in enumerate(ordered):
        highest, lowest, any_nonzero = later[index]
        last = index == len(ordered) - 1
        if anchor is None:
            # Start at the first real total; a register that is 0 throughout
            # (no export, say) starts at its last 0.
            if total > 0 or not any_nonzero:
                anchor = Anchor(time, total, 0.0)
            continue
        if time <= anchor.time:
            continue
        hours = round((time - anchor.time) / HOUR)
        if total < anchor.total:
            if (
                total == 0
                or anchor.total - total <= JITTER * anchor.total
                or highest >= anchor.total
            ):
                continue  # a glitch or rounding: the total comes back
            if last:
                break  # not yet known whether it stays lower
            _LOGGER.info(
                "Meter total dropped from %s to %s and stayed: continuing the "
                "sum from the new base (meter reset or replaced)",
                anchor.total,
                total,
            )
            used = 0.0
        elif total - anchor.total > most_per_hour * hours:
            if lowest < total:
                continue  # a spike: the total comes back below it
            if last:
                break
            _LOGGER.info(
                "Meter total jumped from %s to %s, more than a meter can "
                "measure, and stayed: continuing the sum from the new base",
                anchor.total,
                total,
            )
            used = 0.0
        else:
            used = total - anchor.total
        for step in range(1, hours + 1):
            share = used * step / hours
            end_total = total if step == hours else anchor.total + share
            rows.append(
                StatisticData(
                    start=anchor.time + (step - 1) * HOUR,
                    state=end_total,
                    sum=anchor.sum + share,
                )
            )
        anchor = Anchor(time, total, anchor.sum + used)
    return rows, anchor


def _later(values: Iterable[float]) -> list[tuple[float, float, bool]]:
    """For each total, the highest and lowest after it, and whether one is not 0.

    In one pass from the end: asking each total about all later ones took
    seconds for a year of hours, on the event loop.
    """
    found = []
    highest, lowest, any_nonzero = -math.inf, math.inf, False
    for value in reversed(list(values)):
        found.append((highest, lowest, any_nonzero))
        highest, lowest = max(highest, value), min(lowest, value)
        any_nonzero = any_nonzero or bool(value)
    found.reverse()
    return found


def anchor_at(boundary: datetime, stored: Sequence[StoredRow]) -> Anchor | None:
    """The stored total and sum at a whole hour, if the first row ends there."""
    return next(
        (
            Anchor(boundary, state, total)
            for start, state, total in stored[:1]
            if start == boundary - HOUR
        ),
        None,
    )


def sum_shift(last: StatisticData, after: StoredRow) -> float:
    """How far the sums of the stored hours after a written range must move.

    The first of them used what the total rose by since the range's last
    hour; a drop there is a reset, counted as nothing.
    """
    _, state, total = after
    return last["sum"] + max(state - last["state"], 0.0) - total


def moved(row: StatisticData, shift: float) -> StatisticData:
    """A row with its sum moved by `shift`."""
    return StatisticData(start=row["start"], state=row["state"], sum=row["sum"] + shift)


def changed(
    rows: list[StatisticData], stored: Iterable[StoredRow]
) -> list[StatisticData]:
    """The rows that differ from what is stored: writing is the slow part."""
    old = {start: (state, total) for start, state, total in stored}
    return [
        row
        for row in rows
        if (was := old.get(row["start"])) is None
        or abs(was[0] - row["state"]) > EPSILON
        or abs(was[1] - row["sum"]) > EPSILON
    ]


def points(readings: Iterable[Reading], quantity: Quantity) -> dict[datetime, float]:
    """A register's totals at whole hours."""
    return {
        r.time: r.values[quantity]
        for r in readings
        if quantity in r.values and r.time == floor_hour(r.time)
    }


def already_stored(reading: Reading, anchors: Mapping[Quantity, Anchor | None]) -> bool:
    """Whether a reading is exactly the last imported hour's totals."""
    return all(
        (anchor := anchors[q]) is not None
        and anchor.time == reading.time
        and anchor.total == reading.values[q]
        for q in anchors
        if q in reading.values
    )


def anchor_times(anchors: Mapping[Quantity, Anchor | None]) -> Iterable[datetime]:
    """Where each register's hours end; none while one has no hour yet."""
    if all(anchor is not None for anchor in anchors.values()):
        yield from (anchor.time for anchor in anchors.values() if anchor)


def whole_hours(start: datetime, end: datetime) -> Iterable[datetime]:
    """Every whole hour from start to end, both included."""
    moment = start
    while moment <= end:
        yield moment
        moment += HOUR
