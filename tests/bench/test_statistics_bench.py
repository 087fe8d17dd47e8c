"""Benchmark: one year of hourly statistics for ten meters."""

import dataclasses
from datetime import UTC, datetime, timedelta
import os
import resource

from homeassistant.core import HomeAssistant
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.smart_meter_cloud.const import DOMAIN
from tests.conftest import Inexogy, add_inexogy_entry
from tests.simulator.inexogy import ELECTRICITY_METER_ID

METERS = 10
DAYS = 365


async def test_import_one_year_for_ten_meters(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    # The test harness turns asyncio debug on, which multiplies every cost.
    hass.loop.set_debug(False)
    template = inexogy.sim.meter(ELECTRICITY_METER_ID)
    inexogy.sim.meters = [
        dataclasses.replace(template, data={**template.data, "meterId": f"{i:032x}"})
        for i in range(METERS)
    ]
    entry = await add_inexogy_entry(hass, inexogy.url)
    await async_wait_recording_done(hass)
    end = datetime(2026, 11, 23, tzinfo=UTC)
    start = end - timedelta(days=DAYS)
    asked = inexogy.sim.request_count("/readings")

    cpu = os.times()
    await hass.services.async_call(
        DOMAIN,
        "import_history",
        {
            "config_entry_id": entry.entry_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
        blocking=True,
    )
    queued = os.times()
    await async_wait_recording_done(hass)
    used = os.times()
    wall = used.elapsed - cpu.elapsed
    ours = queued.user - cpu.user + queued.system - cpu.system
    rows = METERS * DAYS * 24 * 2  # energy import and export
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nstatistics import: {METERS} meters x {DAYS} days hourly "
        f"({rows} rows, {inexogy.sim.request_count('/readings') - asked} requests): "
        f"wall {wall:.2f} s, of which fetching and computing "
        f"{queued.elapsed - cpu.elapsed:.2f} s (CPU {ours:.2f} s) and the "
        f"recorder writing {used.elapsed - queued.elapsed:.2f} s; "
        f"max RSS {rss_mib:.0f} MiB, {os.cpu_count()} cores"
    )
