"""The leak rules on hand-built hourly series: pure functions, no Home Assistant."""

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings as hypothesis_settings, strategies as st
import pytest

from custom_components.smart_meter_cloud.leaks import (
    LeakSettings,
    Rule,
    Verdict,
    consumption,
    continuous_flow,
    judge,
    night_hours,
)

BERLIN = ZoneInfo("Europe/Berlin")
H = timedelta(hours=1)
# Monday, local midnight: four days of hours from here.
START = datetime(2026, 11, 16, tzinfo=BERLIN).astimezone(UTC)
DEFAULTS = LeakSettings()

type Litres = Callable[[datetime], float]  # local hour start -> litres used


def series(
    litres: Litres, days: int = 4, start: datetime = START
) -> dict[datetime, float]:
    """Hour start (UTC) -> m³, for `days` days of hours."""
    return {
        start + i * H: litres((start + i * H).astimezone(BERLIN)) / 1000
        for i in range(days * 24)
    }


def household(hour: datetime) -> float:
    """Showers in the morning, cooking and washing in the evening, nothing at night."""
    return {6: 40.0, 7: 60.0, 8: 10.0, 12: 5.0, 18: 20.0, 19: 30.0, 21: 15.0}.get(
        hour.hour, 0.0
    )


def with_dishwasher(hour: datetime) -> float:
    """The dishwasher starts at night, on a timer, from 1 to 3."""
    return household(hour) + (6.0 if hour.hour in (1, 2) else 0.0)


def with_garden_hose(hour: datetime) -> float:
    """Two hours of watering the garden in the evening."""
    return household(hour) + (500.0 if hour.hour in (19, 20) else 0.0)


def with_drip(hour: datetime) -> float:
    """A dripping tap: 1.5 L every hour besides the household."""
    return household(hour) + 1.5


def with_running_toilet(hour: datetime) -> float:
    """A toilet whose fill valve never closes: some 20 L an hour."""
    return household(hour) + 20.0


def test_a_household_stays_off() -> None:
    verdict = judge(series(household), DEFAULTS, BERLIN)
    assert verdict == Verdict(False, night_minimum=0.0)


def test_a_dishwasher_at_night_and_the_peaks_stay_off() -> None:
    verdict = judge(series(with_dishwasher), DEFAULTS, BERLIN)
    assert verdict.suspected is False
    # 2 to 5: the dishwasher's last hour, then none.
    assert verdict.night_minimum == 0.0


def test_a_garden_hose_in_the_evening_stays_off() -> None:
    assert judge(series(with_garden_hose), DEFAULTS, BERLIN).suspected is False


def test_a_dripping_tap_is_continuous_flow_since_the_first_hour() -> None:
    hours = series(with_drip)
    verdict = judge(hours, DEFAULTS, BERLIN)
    assert verdict.suspected is True
    assert verdict.rule is Rule.CONTINUOUS_FLOW
    # Every known hour flowed but the first, which has no hour before it.
    assert verdict.since == min(hours)
    assert verdict.night_minimum == pytest.approx(1.5)


def test_a_running_toilet_fires_both_rules() -> None:
    hours = series(with_running_toilet)
    verdict = judge(hours, DEFAULTS, BERLIN)
    assert verdict.suspected is True
    assert verdict.rule is Rule.CONTINUOUS_FLOW
    assert verdict.night_minimum == pytest.approx(20.0)
    # Continuous flow aside (a day of 24 hours is more than it asks), the
    # night minimum fires as well.
    only_nights = LeakSettings(hours=168)
    verdict = judge(hours, only_nights, BERLIN)
    assert verdict.rule is Rule.NIGHT_MINIMUM
    first_night = datetime.combine(date(2026, 11, 16), time(2), BERLIN)
    assert verdict.since == first_night.astimezone(UTC)


def test_a_leak_that_starts_late_is_dated_by_its_first_hour() -> None:
    began = START + 50 * H

    def leak_from_hour_50(hour: datetime) -> float:
        return household(hour) + (20.0 if hour >= began else 0.0)

    hours = series(leak_from_hour_50)
    verdict = judge(hours, DEFAULTS, BERLIN)
    assert verdict.rule is Rule.CONTINUOUS_FLOW
    assert verdict.since == began
    # Two nights of the leak are not yet three: the night before was dry.
    night_only = judge(hours, LeakSettings(hours=168), BERLIN)
    assert night_only.suspected is False
    assert night_only.night_minimum == pytest.approx(20.0)


def test_night_minimum_alone_when_the_day_has_a_dry_hour() -> None:
    """A night-time refill (a softener, a pool) leaves one dry hour at noon."""

    def nightly(hour: datetime) -> float:
        return 0.0 if hour.hour == 12 else 10.0

    verdict = judge(series(nightly), DEFAULTS, BERLIN)
    assert verdict.suspected is True
    assert verdict.rule is Rule.NIGHT_MINIMUM
    assert verdict.night_minimum == pytest.approx(10.0)
    # At or below the threshold it is no leak.
    assert judge(series(nightly), LeakSettings(threshold=10), BERLIN).suspected is False


def test_too_few_hours_are_unknown() -> None:
    assert judge({}, DEFAULTS, BERLIN) == Verdict(None)
    # Twelve flowing hours, no whole night yet: nothing to tell.
    hours = series(with_running_toilet, days=1)
    half = {start: used for start, used in hours.items() if start < START + 12 * H}
    assert judge(half, DEFAULTS, BERLIN).suspected is None
    # A missing hour among the last 24 leaves continuous flow open.
    hours = series(with_running_toilet, days=2)
    del hours[START + 40 * H]
    assert continuous_flow(hours, 24) == (None, None)


def test_one_dry_night_is_enough_to_say_no() -> None:
    """A household's verdict needs no three nights: one dry hour tells."""
    verdict = judge(series(household, days=1), DEFAULTS, BERLIN)
    assert verdict.suspected is False


def test_hours_six_hours_late_are_judged_by_their_own_times() -> None:
    """Hours that arrive in batches of six, late, tell what they would on time."""
    began = START + 30 * H

    def leak(hour: datetime) -> float:
        return household(hour) + (20.0 if hour >= began else 0.0)

    hours = series(leak)
    known: dict[datetime, float] = {}
    starts = sorted(hours)
    for batch in range(0, len(starts), 6):
        for start in starts[batch : batch + 6]:
            known[start] = hours[start]
        on_time = {s: u for s, u in hours.items() if s <= starts[batch + 5]}
        assert judge(known, DEFAULTS, BERLIN) == judge(on_time, DEFAULTS, BERLIN)
    verdict = judge(known, DEFAULTS, BERLIN)
    assert verdict.rule is Rule.CONTINUOUS_FLOW
    assert verdict.since == began


def test_a_night_may_run_past_midnight() -> None:
    window = LeakSettings(night_start=time(23), night_end=time(1))
    hours = night_hours(date(2026, 11, 16), window, BERLIN)
    assert [h.astimezone(BERLIN).hour for h in hours] == [23, 0]
    # Half hours: the hours the window touches.
    window = LeakSettings(night_start=time(2, 30), night_end=time(4, 30))
    hours = night_hours(date(2026, 11, 16), window, BERLIN)
    assert [h.astimezone(BERLIN).hour for h in hours] == [2, 3, 4]


def test_a_night_in_the_change_to_summer_time_has_its_hours() -> None:
    # 2 o'clock does not exist on 29 March 2026 in Berlin: the window is
    # the two hours from 3 to 5.
    hours = night_hours(date(2026, 3, 29), DEFAULTS, BERLIN)
    assert len(hours) == 2


def test_consumption_from_sums() -> None:
    sums = {START: 1.0, START + H: 1.5, START + 3 * H: 2.0, START + 4 * H: 2.0}
    assert consumption(sums) == {START + H: 0.5, START + 4 * H: 0.0}


def test_settings_from_options() -> None:
    assert LeakSettings.from_options(None) == DEFAULTS
    stored = {
        "hours": 12.0,
        "night_start": "01:30:00",
        "night_end": "04:00:00",
        "threshold": 2.5,
        "nights": 2.0,
    }
    assert LeakSettings.from_options(stored) == LeakSettings(
        12, time(1, 30), time(4), 2.5, 2
    )
    # A time that is none falls back to the default.
    assert LeakSettings.from_options({"night_start": "late"}) == DEFAULTS


DAYS = 5


@hypothesis_settings(max_examples=100, deadline=None)
@given(
    used=st.lists(
        st.floats(min_value=0, max_value=500, allow_nan=False),
        min_size=DAYS * 24,
        max_size=DAYS * 24,
    ),
    hours=st.integers(min_value=2, max_value=96),
    gaps=st.lists(st.integers(min_value=1), min_size=DAYS * 24, max_size=DAYS * 24),
    dry_nights=st.lists(
        st.integers(min_value=2, max_value=4), min_size=DAYS, max_size=DAYS
    ),
)
def test_never_on_with_a_dry_hour_in_every_window_and_night(
    used: list[float], hours: int, gaps: list[int], dry_nights: list[int]
) -> None:
    """A zero hour in every `hours` hours and in every night: never a leak."""
    dry: set[int] = set()
    position = -1
    for gap in gaps:  # no more than `hours` apart: every window holds one
        position += min(gap, hours)
        dry.add(position)
    hourly: dict[datetime, float] = {}
    for i, litres in enumerate(used):
        start = START + i * H
        night_dry = start.astimezone(BERLIN).hour == dry_nights[i // 24]
        hourly[start] = 0.0 if i in dry or night_dry else litres / 1000
    settings = LeakSettings(hours=hours)
    for end in range(1, DAYS * 24 + 1):
        known = {s: u for s, u in hourly.items() if s < START + end * H}
        assert judge(known, settings, BERLIN).suspected is not True
