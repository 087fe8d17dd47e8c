"""Benchmark: requests per polling cycle, wherever the cloud's history ends.

100 inexogy meters, a quarter inactive, polled every 30 s for 65 minutes by
this integration and by Home Assistant's own `discovergy`, side by side,
against a cloud whose `/readings` answers `to` itself, leaves it out, or
publishes each hour 20 minutes late. The simulator runs in its own process.
"""

from collections import Counter
from datetime import UTC, datetime
import logging
import os
import statistics

from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import HomeAssistant
import pydiscovergy.discovergy
import pytest

from tests.bench.test_polling_bench import (
    SimulatorProcess,
    _quiet,
    set_up_discovergy,
    set_up_ours,
    simulator,  # noqa: F401  (the fixture)
)

METERS = 100
CYCLES = 130  # 65 minutes at one poll each 30 s: one hour begins
WINDOWS = {
    "to inclusive": None,
    "to exclusive": "exclusive",
    "20 min late": "delay 1200",
}


@pytest.fixture
def meters() -> int:
    return METERS


@pytest.mark.parametrize("window", WINDOWS.values(), ids=WINDOWS.keys())
async def test_requests_per_cycle(
    hass: HomeAssistant,
    socket_enabled: None,
    simulator: SimulatorProcess,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    freezer: FrozenDateTimeFactory,
    window: str | None,
) -> None:
    # Home Assistant's clock follows the cloud's: when to ask again counts.
    # Ten seconds off the minute, as polls are: one landing on a whole hour
    # would bring that hour's totals with no history request.
    freezer.move_to(datetime.fromtimestamp(simulator.ask("tick 10"), UTC))
    _quiet(hass)
    # Not a line for every recorder query: 2 x 240 cycles of them.
    logging.getLogger("homeassistant.components.recorder").setLevel(logging.INFO)
    if window:
        simulator.ask(f"window {window}")
    simulator.ask("empty 1")  # discovergy's setup fails on a 400 otherwise
    ours, ours_entry = await set_up_ours(hass, simulator)
    coordinator = ours_entry.runtime_data.coordinator
    monkeypatch.setattr(pydiscovergy.discovergy, "API_BASE", simulator.url)
    theirs, theirs_entry = await set_up_discovergy(hass, simulator)

    per_path: dict[str, Counter[str]] = {ours.name: Counter(), theirs.name: Counter()}
    for _ in range(CYCLES):
        simulator.ask("tick 30")
        freezer.tick(30)
        for side, refresh in (
            (ours, [coordinator]),
            (theirs, list(theirs_entry.runtime_data)),
        ):
            before = simulator.requests()
            for each in refresh:
                await each.async_refresh()
            await hass.async_block_till_done(wait_background_tasks=True)
            asked = simulator.requests() - before
            side.requests.append(asked.total())
            per_path[side.name] += asked

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"\ninexogy requests per cycle, history window {window or 'to inclusive'}: "
        f"{METERS} meters ({METERS * 3 // 4} active), {CYCLES} cycles of 30 s, "
        f"{os.cpu_count()} cores, load average {load}",
        "  side                 median   mean    max   by path over all cycles",
    ]
    for side in (ours, theirs):
        paths = ", ".join(f"{p} {n}" for p, n in sorted(per_path[side.name].items()))
        lines.append(
            f"  {side.name:<20}{statistics.median(side.requests):>7.0f}"
            f"{statistics.mean(side.requests):>7.1f}{max(side.requests):>7}   {paths}"
        )
    print("\n".join(lines))
