"""Benchmark: one year of hourly statistics for ten meters.

Side by side in one run: the `import_history` action end to end, and the
floor, Home Assistant's recorder writing the same number of rows handed to it
directly, with nothing fetched or computed.
"""

import dataclasses
from datetime import UTC, datetime, timedelta
import os
import resource
import time

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_add_external_statistics
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.smart_meter_cloud.const import DOMAIN
from tests.conftest import Inexogy, add_inexogy_entry, import_history
from tests.simulator.inexogy import ELECTRICITY_METER_ID

METERS = 10
DAYS = 365
QUANTITIES = 2  # energy import and export
ROWS = METERS * DAYS * 24 * QUANTITIES
CHUNK_ROWS = 30 * 24  # what the integration hands the recorder at a time


def _wall() -> float:
    # The frozen clock stops perf_counter; os.times() keeps counting.
    return os.times().elapsed


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


@pytest.mark.parametrize(
    ("persistent_database", "priced"),
    [(False, False), (True, False), (False, True)],
    ids=["memory", "file", "memory-priced"],
)
async def test_import_one_year_for_ten_meters(
    hass: HomeAssistant, inexogy: Inexogy, persistent_database: bool, priced: bool
) -> None:
    """Priced: both registers have a fixed price; the year is costed after."""
    # The test harness turns asyncio debug on, which multiplies every cost.
    hass.loop.set_debug(False)
    template = inexogy.sim.meter(ELECTRICITY_METER_ID)
    inexogy.sim.meters = [
        dataclasses.replace(template, data={**template.data, "meterId": f"{i:032x}"})
        for i in range(METERS)
    ]
    entry = await add_inexogy_entry(hass, inexogy.url)
    if priced:
        prices = {"electricity_import": 0.3, "electricity_export": 0.08}
        hass.config_entries.async_update_entry(
            entry, options={**entry.options, "prices": prices}
        )
        await hass.config_entries.async_reload(entry.entry_id)
        await hass.async_block_till_done(wait_background_tasks=True)
    await async_wait_recording_done(hass)
    end = datetime(2026, 11, 23, tzinfo=UTC)
    start = end - timedelta(days=DAYS)
    asked = inexogy.sim.request_count("/readings")

    wall, cpu, loop_cpu = _wall(), _cpu(), time.thread_time()
    await import_history(hass, entry.entry_id, start, end)
    # Our code and the simulator share the event loop's thread; the recorder
    # writes in its own.
    loop_cpu = time.thread_time() - loop_cpu
    await async_wait_recording_done(hass)
    ours_wall, ours_cpu = _wall() - wall, _cpu() - cpu
    requests = inexogy.sim.request_count("/readings") - asked
    costing = ""
    if priced:
        # A price applies from the hour it was set: the year before it is
        # costed only on request, as a user who set the price late would.
        wall, cpu, cost_loop = _wall(), _cpu(), time.thread_time()
        await hass.services.async_call(
            DOMAIN,
            "recompute_costs",
            {"config_entry_id": entry.entry_id, "start": start.isoformat()},
            blocking=True,
        )
        cost_loop = time.thread_time() - cost_loop
        await async_wait_recording_done(hass)
        costing = (
            f"  recompute_costs for the year ({ROWS} cost rows): wall "
            f"{_wall() - wall:.1f} s, CPU {_cpu() - cpu:.1f} s "
            f"(event loop thread {cost_loop:.1f} s)\n"
        )

    # The floor: the same number of rows, in the same size of jobs, handed to
    # the recorder directly.
    wall, cpu = _wall(), _cpu()
    for meter in range(METERS * QUANTITIES):
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=None,
            source=DOMAIN,
            statistic_id=f"{DOMAIN}:floor_{meter}",
            unit_class="energy",
            unit_of_measurement="kWh",
        )
        for first in range(0, DAYS * 24, CHUNK_ROWS):
            async_add_external_statistics(
                hass,
                metadata,
                [
                    StatisticData(start=start + timedelta(hours=h), state=h, sum=h)
                    for h in range(first, min(first + CHUNK_ROWS, DAYS * 24))
                ],
            )
    await async_wait_recording_done(hass)
    floor_wall, floor_cpu = _wall() - wall, _cpu() - cpu

    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    database = "file" if persistent_database else "in-memory"
    priced_note = ", both registers priced" if priced else ""
    print(
        f"\nstatistics import{priced_note}, {database} SQLite, "
        f"{os.cpu_count()} cores: "
        f"{METERS} meters x {DAYS} days x {QUANTITIES} registers = {ROWS} rows, "
        f"{requests} requests\n"
        f"  import_history: wall {ours_wall:.1f} s, CPU {ours_cpu:.1f} s "
        f"(event loop thread {loop_cpu:.1f} s)\n"
        f"{costing}"
        f"  recorder floor: wall {floor_wall:.1f} s, CPU {floor_cpu:.1f} s "
        f"({floor_wall / ROWS * 1e6:.0f} us per row)\n"
        f"  ratio import_history / floor: {ours_wall / floor_wall:.2f}; "
        f"max RSS {rss_mib:.0f} MiB"
    )
