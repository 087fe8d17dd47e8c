"""Benchmark: Kamstrup READY at utility scale.

- One push of 10,000 readings (ten hours of 1,000 meters), from the HTTP
  request to every state written, against merely parsing its JSON body.
- Setting up 1,000 and 5,000 meters: time, and memory (RSS, tracemalloc).
"""

from collections.abc import AsyncIterator
import gc
import json
import os
from pathlib import Path
import statistics
import time
import tracemalloc

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import (
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_REGION,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
import orjson
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator

from custom_components.smart_meter_cloud.api.ready import ACTIVE
from custom_components.smart_meter_cloud.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.smart_meter_cloud.providers.ready import (
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    ID as PROVIDER_READY,
)
from tests.conftest import Ready, settle
from tests.simulator import ready as ready_sim

HOURS = 10
PUSHES = 5


def _wall() -> float:
    return time.perf_counter()


def _rss_mib() -> float:
    """The process's resident memory now (not its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


@pytest.fixture
async def ready(
    hass: HomeAssistant,
    aiohttp_client: ClientSessionGenerator,
    socket_enabled: None,
) -> AsyncIterator[Ready]:
    """The READY simulator and Home Assistant's web server, on a real clock.

    A frozen clock makes every time lookup walk the stack: not what runs in
    production, and slower for whoever asks the time more often.
    """
    for component in ("webhook", "diagnostics"):
        assert await async_setup_component(hass, component, {})
    client = await aiohttp_client(hass.http.app, server_kwargs={"access_log": None})
    ha_url = str(client.make_url("/")).rstrip("/")
    await hass.config.async_update(external_url=ha_url)
    sim = ready_sim.ReadySimulator()
    url = await sim.start()
    yield Ready(sim, url, ha_url, client.server)
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        await hass.config_entries.async_unload(entry.entry_id)
    await sim.stop()


async def _set_up(hass: HomeAssistant, ready: Ready, meters: int) -> MockConfigEntry:
    ready.sim.set_meter_count(meters)
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"Kamstrup READY {ready_sim.DEMO_TENANT_ID[:8]}",
        data={
            CONF_PROVIDER: PROVIDER_READY,
            CONF_REGION: "custom",
            CONF_TENANT_ID: ready_sim.DEMO_TENANT_ID,
            CONF_CLIENT_ID: ready_sim.DEMO_CLIENT_ID,
            CONF_CLIENT_SECRET: ready_sim.DEMO_CLIENT_SECRET,
            CONF_API_KEY: ready_sim.DEMO_API_KEY,
            CONF_BASE_URL: ready.url,
            CONF_TOKEN_URL: ready.sim.token_url,
        },
        # One day of history: the statistics import is benchmarked elsewhere.
        options={CONF_HISTORY_DAYS: 1},
    )
    entry.add_to_hass(hass)
    assert await hass.config_entries.async_setup(entry.entry_id)
    return entry


@pytest.mark.parametrize(
    ("meters", "traced"),
    [(1000, False), (1000, True), (5000, False)],
    ids=["1000", "1000-tracemalloc", "5000"],
)
async def test_set_up_many_meters(
    hass: HomeAssistant, ready: Ready, meters: int, traced: bool
) -> None:
    hass.loop.set_debug(False)
    await async_wait_recording_done(hass)
    gc.collect()
    rss = _rss_mib()
    if traced:
        tracemalloc.start()
    wall, loop_cpu, cpu = _wall(), time.thread_time(), time.process_time()
    entry = await _set_up(hass, ready, meters)
    setup_wall, setup_loop_cpu = _wall() - wall, time.thread_time() - loop_cpu
    # The subscription handshake, READY posting back to Home Assistant.
    pushes = entry.runtime_data.pushes
    assert pushes is not None
    await ready.sim.settle()
    assert pushes.status == ACTIVE
    subscribed_wall = _wall() - wall
    # The day of history each meter imports, in the background.
    await settle(hass, ready)
    await async_wait_recording_done(hass)
    history_wall = _wall() - wall
    if traced:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    gc.collect()
    rss_after = _rss_mib()
    cpu = time.process_time() - cpu
    assert entry.state is ConfigEntryState.LOADED
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry.entry_id)
    enabled = sum(1 for e in entities if not e.disabled)
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nREADY setup, {meters} meters, {os.cpu_count()} cores, "
        f"load average {load}{', tracemalloc on' if traced else ''}\n"
        f"  {len(entities)} entities ({enabled} enabled), "
        f"{len(hass.states.async_all())} states\n"
        f"  setup: wall {setup_wall:.2f} s, loop CPU {setup_loop_cpu:.2f} s; "
        f"subscribed after {subscribed_wall:.2f} s; history imported and "
        f"recorded after {history_wall:.2f} s, process CPU {cpu:.2f} s\n"
        f"  RSS {rss:.0f} -> {rss_after:.0f} MiB (+{rss_after - rss:.0f} MiB)"
        + (
            f"; tracemalloc current {current / 2**20:.0f} MiB, "
            f"peak {peak / 2**20:.0f} MiB"
            if traced
            else ""
        )
    )


async def test_push_ten_thousand_readings(hass: HomeAssistant, ready: Ready) -> None:
    hass.loop.set_debug(False)
    meters = 1000
    entry = await _set_up(hass, ready, meters)
    await settle(hass, ready)
    await async_wait_recording_done(hass)
    end = ready.sim.last_hour()
    readings = [
        meter.reading(t)
        for t in range(end - (HOURS - 1) * 3600, end + 1, 3600)
        for meter in ready.sim.meters
    ]
    assert entry.runtime_data.pushes is not None
    # The same readings, delivered anew each time (a redelivery is skipped).
    bodies = [
        json.dumps(
            {
                "type": "MeterReadings",
                "subscriptionId": entry.runtime_data.pushes.subscription_id,
                "deliveryId": f"bench-{push}",
                "readings": readings,
            },
            separators=(",", ":"),
        ).encode()
        for push in range(PUSHES)
    ]
    url = f"{ready.ha_url}/api/webhook/{entry.data[CONF_WEBHOOK_ID]}"
    volume = "sensor.water_meter_0005_water_volume"  # a generated meter
    before = hass.states.get(volume)
    assert before is not None
    reported = before.last_reported

    # The floor: parsing the body, as the standard library and orjson do.
    parse: dict[str, list[tuple[float, float]]] = {}
    for name, loads in (("json.loads", json.loads), ("orjson.loads", orjson.loads)):
        for body in bodies:
            wall, loop_cpu = _wall(), time.thread_time()
            loads(body)
            parse.setdefault(name, []).append(
                (_wall() - wall, time.thread_time() - loop_cpu)
            )

    answered: list[tuple[float, float]] = []
    full_collections = []
    async with aiohttp.ClientSession() as session:
        for body in bodies:
            headers = {
                "Content-Type": "application/json",
                ready_sim.SIGNATURE_HEADER: ready.sim.sign(body),
            }
            collections = gc.get_stats()[2]["collections"]
            wall, loop_cpu, cpu = _wall(), time.thread_time(), time.process_time()
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 200, await response.text()
            # Every state is written before the answer goes out.
            answered.append((_wall() - wall, time.thread_time() - loop_cpu))
            full_collections.append(gc.get_stats()[2]["collections"] - collections)
            await hass.async_block_till_done(wait_background_tasks=True)
            background_wall = _wall() - wall
            background_loop_cpu = time.thread_time() - loop_cpu
            await async_wait_recording_done(hass)
            recorded_wall, cpu = _wall() - wall, time.process_time() - cpu
        # An alarm of one meter: only that meter's entities change.
        meter = ready.sim.meters[5]
        alarm = json.dumps(
            {
                "type": "Alarms",
                "subscriptionId": entry.runtime_data.pushes.subscription_id,
                "deliveryId": "bench-alarm",
                "alarms": [
                    {
                        "meterId": meter.meter_id,
                        "timestamp": readings[-1]["timestamp"],
                        "infoCode": ready_sim.LEAK,
                    }
                ],
            }
        ).encode()
        headers[ready_sim.SIGNATURE_HEADER] = ready.sim.sign(alarm)
        wall, loop_cpu = _wall(), time.thread_time()
        async with session.post(url, data=alarm, headers=headers) as response:
            assert response.status == 200, await response.text()
        alarm_wall, alarm_loop_cpu = _wall() - wall, time.thread_time() - loop_cpu
        await hass.async_block_till_done(wait_background_tasks=True)
    leak = hass.states.get("binary_sensor.water_meter_0005_leak")
    assert leak is not None
    assert leak.state == "on"
    after = hass.states.get(volume)
    assert after is not None
    assert after.last_reported > reported

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    push_wall = statistics.median(w for w, _ in answered)
    push_loop_cpu = statistics.median(c for _, c in answered)
    lines = [
        f"\nREADY push, {len(readings)} readings of {meters} meters "
        f"({len(bodies[0]) / 2**20:.1f} MiB), {os.cpu_count()} cores, "
        f"load average {load}; {PUSHES} pushes",
        "  request -> states written (answered): "
        + ", ".join(f"{w * 1e3:.0f}" for w, _ in answered)
        + f" ms; median wall {push_wall * 1e3:.0f} ms, "
        f"loop CPU {push_loop_cpu * 1e3:.0f} ms; full garbage collections "
        f"during each: {full_collections}",
        f"  last push -> statistics queued: wall {background_wall * 1e3:.0f} ms, "
        f"loop CPU {background_loop_cpu * 1e3:.0f} ms; -> recorder done: "
        f"wall {recorded_wall * 1e3:.0f} ms, process CPU {cpu * 1e3:.0f} ms",
        f"  one meter's alarm pushed -> answered: wall {alarm_wall * 1e3:.1f} ms, "
        f"loop CPU {alarm_loop_cpu * 1e3:.1f} ms",
    ]
    for name, times in parse.items():
        wall = statistics.median(w for w, _ in times)
        loop_cpu = statistics.median(c for _, c in times)
        lines.append(
            f"  parse only, {name}: median wall {wall * 1e3:.0f} ms, "
            f"CPU {loop_cpu * 1e3:.0f} ms; push / parse "
            f"{push_wall / wall:.1f} (wall), {push_loop_cpu / loop_cpu:.1f} (CPU)"
        )
    print("\n".join(lines))
