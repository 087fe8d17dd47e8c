"""One request per active meter per poll, wherever a cloud's history ends.

A cloud's hourly history may not answer `to` itself, may publish the newest
hour late, or never. Each variant is a switch of the simulators; under each,
a meter's history is asked for at most once an hour while an hour is
missing, and a poll otherwise costs one latest reading per active meter.
"""

from collections import Counter
from datetime import UTC, datetime

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pytest

from tests.simulator import HistoryWindow, ready as ready_sim

from .conftest import (
    HALF_PAST,
    IMPORT_ID,
    WATER_ID,
    H,
    Inexogy,
    Ready,
    add_inexogy_entry,
    add_ready_entry,
    assert_consistent,
    assert_hourly,
    poll,
    statistic_rows,
)

SETUP = datetime(2026, 11, 23, 12, 0, 10, tzinfo=UTC)
WINDOWS = {
    "to inclusive": (HistoryWindow(), 0),
    "to exclusive": (HistoryWindow(to_exclusive=True), 0),
    "20 minutes late": (HistoryWindow(delay=20 * 60), 1),
    "3 hours late": (HistoryWindow(delay=3 * 3600), 3),
    "an hour that never comes": (
        HistoryWindow(missing={int((SETUP + H).timestamp()) // 3600 * 3600}),
        0,
    ),
    "never again": (HistoryWindow(delay=10 * 365 * 86400), None),
}


@pytest.mark.parametrize(("window", "behind"), WINDOWS.values(), ids=WINDOWS.keys())
async def test_inexogy_asks_for_history_at_most_hourly(
    hass: HomeAssistant,
    inexogy: Inexogy,
    frozen: FrozenDateTimeFactory,
    window: HistoryWindow,
    behind: int | None,
) -> None:
    inexogy.sim.window = window
    await add_inexogy_entry(hass, inexogy.url)
    active = sum(1 for meter in inexogy.sim.meters if meter.active)
    polls = 0
    for hour in range(3):
        begins = len(inexogy.sim.requests)
        readings = inexogy.sim.request_count("/readings")
        latest = inexogy.sim.request_count("/last_reading")
        for _ in range(12):  # an hour, at one poll each five minutes
            await poll(hass, frozen, 300)
            polls += 1
        # Each poll: one latest reading per active meter ...
        assert inexogy.sim.request_count("/last_reading") - latest == 12 * active
        # ... and within the hour at most one history request per meter.
        asked = inexogy.sim.request_count("/readings") - readings
        assert asked <= active, (hour, asked)
        meters = [
            query["meterId"]
            for _, path, query in inexogy.sim.requests[begins:]
            if path == "/readings"
        ]
        assert max(Counter(meters).values(), default=0) <= 1, hour
    assert polls == 36

    rows = await statistic_rows(hass, IMPORT_ID)
    if behind is None:  # no history at all
        assert rows == []
        # Backing off: asked at setup, then an hour and two hours later.
        assert inexogy.sim.request_count("/readings") <= 3 * active
        return
    assert_hourly(rows)
    assert_consistent(rows)
    end = datetime.fromtimestamp(rows[-1]["start"], UTC) + H
    newest = SETUP.replace(minute=0, second=0) + 3 * H
    assert newest - (behind + 1) * H <= end <= newest


@pytest.mark.freeze_time(HALF_PAST)
@pytest.mark.parametrize(("window", "behind"), WINDOWS.values(), ids=WINDOWS.keys())
async def test_ready_asks_for_history_at_most_hourly(
    hass: HomeAssistant,
    ready: Ready,
    freezer: FrozenDateTimeFactory,
    window: HistoryWindow,
    behind: int | None,
) -> None:
    """Polled hourly, with no pushes: the history fills what the latest lacks."""
    ready.sim.window = window
    await add_ready_entry(hass, ready)
    history = f"/api/v1/meters/{ready_sim.WATER_METER_ID}/readings"
    asked = ready.sim.request_count(history)
    for _ in range(6):
        await poll(hass, freezer, 3600)
    assert ready.sim.request_count(history) - asked <= 6
    rows = await statistic_rows(hass, WATER_ID)
    assert_hourly(rows)
    assert_consistent(rows)
