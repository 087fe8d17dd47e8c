"""Leak suspicion from a water meter's hourly consumption: pure rules.

Kamstrup meters raise a leak bit themselves; other water meters do not, and
some utilities do not forward alarms. Two rules read the hours instead:

- continuous flow: water flowed in every one of the last `hours` hours;
- night minimum: the smallest hour of the night window stayed above
  `threshold` for `nights` nights in a row.

The hours are judged by their own times, up to the newest known: hours that
arrive late give the verdict they would have given on time.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Any, Final

HOUR: Final = timedelta(hours=1)
LITRES_PER_M3: Final = 1000.0
# Less than this in an hour is no flow: float noise of sums and spread hours
# (a meter counts whole litres, or millilitres at best).
NO_FLOW: Final = 1e-6  # m³

# Defaults. A household uses no water in some hour of a day, and in some
# hour between 2 and 5 at night: a dishwasher or a toilet flushed at night
# leaves other hours at zero. A dripping tap or a running toilet does not.
# 3 L/h is above what a meter's rounding to whole litres shows and below a
# drip worth fixing (some 70 L a day); three nights in a row rule out a
# guest, a sick night or a filled pool.
DEFAULT_HOURS: Final = 24
DEFAULT_NIGHT_START: Final = time(2)
DEFAULT_NIGHT_END: Final = time(5)
DEFAULT_THRESHOLD: Final = 3.0  # L/h
DEFAULT_NIGHTS: Final = 3
MIN_HOURS, MAX_HOURS = 2, 168
MIN_NIGHTS, MAX_NIGHTS = 1, 14
MAX_THRESHOLD: Final = 1000.0  # L/h

# The option section and its fields.
CONF_LEAK: Final = "leak"
CONF_HOURS: Final = "hours"
CONF_NIGHT_START: Final = "night_start"
CONF_NIGHT_END: Final = "night_end"
CONF_THRESHOLD: Final = "threshold"
CONF_NIGHTS: Final = "nights"


class Rule(StrEnum):
    """Which rule fired."""

    CONTINUOUS_FLOW = "continuous_flow"
    NIGHT_MINIMUM = "night_minimum"


@dataclass(frozen=True, slots=True)
class LeakSettings:
    """The rules' thresholds, as the options set them."""

    hours: int = DEFAULT_HOURS
    night_start: time = DEFAULT_NIGHT_START
    night_end: time = DEFAULT_NIGHT_END
    threshold: float = DEFAULT_THRESHOLD  # L/h
    nights: int = DEFAULT_NIGHTS

    @classmethod
    def from_options(cls, options: Mapping[str, Any] | None) -> LeakSettings:
        """The settings of an entry's leak option section; defaults for the rest."""
        found = options or {}
        return cls(
            hours=int(found.get(CONF_HOURS, DEFAULT_HOURS)),
            night_start=_time(found.get(CONF_NIGHT_START), DEFAULT_NIGHT_START),
            night_end=_time(found.get(CONF_NIGHT_END), DEFAULT_NIGHT_END),
            threshold=float(found.get(CONF_THRESHOLD, DEFAULT_THRESHOLD)),
            nights=int(found.get(CONF_NIGHTS, DEFAULT_NIGHTS)),
        )

    @property
    def days_needed(self) -> int:
        """Days of hours the rules read back, a day to spare for the run's start."""
        return max(self.hours // 24 + 1, self.nights + 1) + 1


def _time(value: Any, default: time) -> time:
    """A time selector's "HH:MM:SS", or the default."""
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a leak is suspected (None: too few hours to judge), why and since.

    `night_minimum` is the latest whole night's smallest hour, in L/h.
    """

    suspected: bool | None
    rule: Rule | None = None
    since: datetime | None = None
    night_minimum: float | None = None


def judge(
    hourly: Mapping[datetime, float], settings: LeakSettings, zone: tzinfo
) -> Verdict:
    """Judge a meter's hours (hour start in UTC -> m³) by both rules.

    On when either rule fires, continuous flow first; off when neither can;
    None while too few hours are known to tell.
    """
    nights = night_minimums(hourly, settings, zone)
    latest_minimum = nights[-1][1] if nights else None
    flow, flow_since = continuous_flow(hourly, settings.hours)
    night, night_since = night_rule(nights, settings, zone)
    minimum = None if latest_minimum is None else latest_minimum * LITRES_PER_M3
    if flow:
        return Verdict(True, Rule.CONTINUOUS_FLOW, flow_since, minimum)
    if night:
        return Verdict(True, Rule.NIGHT_MINIMUM, night_since, minimum)
    if flow is None or night is None:
        return Verdict(None, night_minimum=minimum)
    return Verdict(False, night_minimum=minimum)


def continuous_flow(
    hourly: Mapping[datetime, float], hours: int
) -> tuple[bool | None, datetime | None]:
    """Whether water flowed in each of the last `hours` hours, and since when.

    The last hours end at the newest known hour. False as soon as one of
    them had none; None while one of them is not known.
    """
    if not hourly:
        return None, None
    newest = max(hourly)
    window = [hourly.get(newest - step * HOUR) for step in range(hours)]
    if any(used is not None and used <= NO_FLOW for used in window):
        return False, None
    if any(used is None for used in window):
        return None, None
    since = newest - (hours - 1) * HOUR
    while (used := hourly.get(since - HOUR)) is not None and used > NO_FLOW:
        since -= HOUR
    return True, since


def night_hours(night: date, settings: LeakSettings, zone: tzinfo) -> list[datetime]:
    """The hours (UTC starts) a night's window covers, in part or whole.

    A night is named by the day its window starts; a window whose end is
    not after its start runs past midnight.
    """
    start = datetime.combine(night, settings.night_start, zone)
    end_day = night + timedelta(days=settings.night_end <= settings.night_start)
    end = datetime.combine(end_day, settings.night_end, zone)
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    found = []
    moment = first
    while moment < end:
        found.append(moment)
        moment += HOUR
    return found


def night_minimums(
    hourly: Mapping[datetime, float], settings: LeakSettings, zone: tzinfo
) -> list[tuple[date, float | None]]:
    """Each night's smallest hour in m³ (None: an hour not known), oldest first.

    The nights from the oldest known hour's to the newest whose window has
    ended by the end of the newest known hour.
    """
    if not hourly:
        return []
    oldest, newest = min(hourly), max(hourly) + HOUR
    night = oldest.astimezone(zone).date() - timedelta(days=1)
    last = newest.astimezone(zone).date()
    found: list[tuple[date, float | None]] = []
    while night <= last:
        hours = night_hours(night, settings, zone)
        if hours and hours[-1] + HOUR <= newest and hours[0] >= oldest:
            used = [hourly.get(hour) for hour in hours]
            known = [u for u in used if u is not None]
            found.append((night, min(known) if len(known) == len(used) else None))
        night += timedelta(days=1)
    return found


def night_rule(
    nights: list[tuple[date, float | None]], settings: LeakSettings, zone: tzinfo
) -> tuple[bool | None, datetime | None]:
    """Whether the last `nights` nights' minimums all stayed above the threshold.

    False as soon as one of them did not; None while one is not known.
    Since: the start of the run's first night window.
    """
    threshold = settings.threshold / LITRES_PER_M3
    last = [minimum for _, minimum in nights[-settings.nights :]]
    if any(m is not None and m <= threshold for m in last):
        return False, None
    if len(last) < settings.nights or any(m is None for m in last):
        return None, None
    first = len(nights) - settings.nights
    while first > 0 and (m := nights[first - 1][1]) is not None and m > threshold:
        first -= 1
    start = datetime.combine(nights[first][0], settings.night_start, zone)
    return True, start.astimezone(UTC)


def consumption(sums: Mapping[datetime, float]) -> dict[datetime, float]:
    """Each hour's consumption from the sums, where the hour before's is known."""
    return {
        start: value - before
        for start, value in sums.items()
        if (before := sums.get(start - HOUR)) is not None
    }
