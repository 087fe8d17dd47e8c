"""Benchmark: polling inexogy with 10, 100 and 1,000 meters, a quarter inactive.

Side by side in one Home Assistant: this integration, Home Assistant's own
`discovergy` integration (set up from its config entry, its client pointed at
the simulator), and the floor, a bare aiohttp client asking for the same
readings. The simulator runs in a process of its own, so its CPU time counts
against none of them; what is measured here is the event loop's thread.
"""

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
import json
import logging
import os
from pathlib import Path
import statistics
import subprocess
import sys
import time
from typing import Any

import aiohttp
from homeassistant.config_entries import ConfigEntryState
from homeassistant.const import CONF_EMAIL, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import pydiscovergy.discovergy
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.smart_meter_cloud.api.inexogy import InexogyClient
from custom_components.smart_meter_cloud.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.smart_meter_cloud.providers.inexogy import (
    CONF_ACCESS_TOKEN_SECRET,
    CONF_CONSUMER_KEY,
    CONF_CONSUMER_SECRET,
    ID as PROVIDER_INEXOGY,
)
from tests.simulator.inexogy import DEMO_EMAIL, DEMO_PASSWORD

# Cycles measured (after one each to warm up): more where a cycle is short.
CYCLES = {10: 101, 100: 21, 1000: 7}
ROOT = Path(__file__).parents[2]


def _wall() -> float:
    return time.perf_counter()


def _cpu() -> float:
    # Every thread of the process: the event loop's, the recorder's, ...
    return time.process_time()


class SimulatorProcess:
    """The simulator in its own process, steered one line at a time."""

    def __init__(self, meters: int, epoch: float) -> None:
        command = [sys.executable, "-m", "tests.bench.inexogy_process"]
        self.process = subprocess.Popen(
            [*command, str(meters), str(epoch)],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.url = self._line()

    def _line(self) -> str:
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def ask(self, command: str) -> Any:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return json.loads(self._line())

    def requests(self) -> Counter[str]:
        return Counter(self.ask("stats")["requests"])

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)


@dataclass
class Side:
    """What one client did: at setup, and in each polling cycle."""

    name: str
    setup_requests: Counter[str] = field(default_factory=Counter)
    setup_wall: float = 0.0
    setup_loop_cpu: float = 0.0
    requests: list[int] = field(default_factory=list)
    wall: list[float] = field(default_factory=list)
    loop_cpu: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    entities: int = 0
    enabled: int = 0
    failed: int = 0

    def median(self, values: Sequence[float]) -> float:
        return statistics.median(values)


@pytest.fixture
def simulator(meters: int) -> Iterator[SimulatorProcess]:
    # Ten minutes past a whole hour: the cycles stay within it.
    epoch = time.time() // 3600 * 3600 + 600
    process = SimulatorProcess(meters, epoch)
    yield process
    process.close()


async def our_entry(hass: HomeAssistant, url: str) -> MockConfigEntry:
    """Our entry for the demo account, with OAuth tokens issued beforehand.

    One day of history: the statistics import is benchmarked elsewhere.
    """
    client = InexogyClient(async_get_clientsession(hass), base_url=url)
    credentials = await client.authorize(DEMO_EMAIL, DEMO_PASSWORD)
    return MockConfigEntry(
        domain=DOMAIN,
        title=DEMO_EMAIL,
        unique_id=f"{PROVIDER_INEXOGY}_{DEMO_EMAIL}",
        data={
            CONF_PROVIDER: PROVIDER_INEXOGY,
            CONF_EMAIL: DEMO_EMAIL,
            CONF_CONSUMER_KEY: credentials.consumer_key,
            CONF_CONSUMER_SECRET: credentials.consumer_secret,
            "access_token": credentials.access_token,
            CONF_ACCESS_TOKEN_SECRET: credentials.access_token_secret,
            CONF_BASE_URL: url,
        },
        options={CONF_HISTORY_DAYS: 1},
        pref_disable_polling=True,
        minor_version=2,
    )


def _discovergy_entry() -> MockConfigEntry:
    """Home Assistant's discovergy entry for the demo account, not polling."""
    return MockConfigEntry(
        domain="discovergy",
        # Its own flow titles the entry with the e-mail, which Home Assistant
        # then logs; every log line here is searched for the demo secrets.
        title="discovergy demo account",
        unique_id=DEMO_EMAIL,
        data={CONF_EMAIL: DEMO_EMAIL, CONF_PASSWORD: DEMO_PASSWORD},
        pref_disable_polling=True,
    )


async def _setup(
    hass: HomeAssistant, sim: SimulatorProcess, entry: MockConfigEntry, side: Side
) -> None:
    entry.add_to_hass(hass)
    before = sim.requests()
    wall, loop_cpu = _wall(), time.thread_time()
    await hass.config_entries.async_setup(entry.entry_id)
    side.setup_loop_cpu = time.thread_time() - loop_cpu
    side.setup_wall = _wall() - wall
    await hass.async_block_till_done(wait_background_tasks=True)
    await async_wait_recording_done(hass)
    side.setup_requests = sim.requests() - before


def _quiet(hass: HomeAssistant) -> None:
    """Run as Home Assistant runs outside its tests, for a fair measure."""
    # The test harness turns asyncio debug on, which multiplies every cost.
    hass.loop.set_debug(False)
    # As Home Assistant's bootstrap does: no log line for every request.
    logging.getLogger("httpx").setLevel(logging.WARNING)


async def set_up_ours(
    hass: HomeAssistant, sim: SimulatorProcess
) -> tuple[Side, MockConfigEntry]:
    """Our entry for the demo account set up, its setup measured."""
    side = Side("smart_meter_cloud")
    entry = await our_entry(hass, sim.url)
    await _setup(hass, sim, entry, side)
    assert entry.state is ConfigEntryState.LOADED
    return side, entry


async def set_up_discovergy(
    hass: HomeAssistant, sim: SimulatorProcess
) -> tuple[Side, MockConfigEntry]:
    """Home Assistant's discovergy entry set up, its setup measured.

    Its client must already be pointed at the simulator.
    """
    side = Side("discovergy")
    entry = _discovergy_entry()
    await _setup(hass, sim, entry, side)
    assert entry.state is ConfigEntryState.LOADED
    return side, entry


async def _cycle(
    hass: HomeAssistant,
    sim: SimulatorProcess,
    poll: Callable[[], Awaitable[None]],
    side: Side | None,
) -> None:
    """One round of polling, until every state and background task is done."""
    sim.ask("tick 30")
    before = sim.requests()
    await async_wait_recording_done(hass)
    wall, cpu, loop_cpu = _wall(), _cpu(), time.thread_time()
    await poll()
    await hass.async_block_till_done(wait_background_tasks=True)
    loop_cpu = time.thread_time() - loop_cpu
    wall = _wall() - wall
    # The recorder's thread writes the new states: it counts in process CPU.
    await async_wait_recording_done(hass)
    cpu = _cpu() - cpu
    if side is not None:
        side.requests.append((sim.requests() - before).total())
        side.wall.append(wall)
        side.loop_cpu.append(loop_cpu)
        side.cpu.append(cpu)


@pytest.mark.parametrize("meters", [10, 100, 1000])
async def test_poll_inexogy(
    hass: HomeAssistant,
    socket_enabled: None,
    simulator: SimulatorProcess,
    monkeypatch: pytest.MonkeyPatch,
    meters: int,
) -> None:
    _quiet(hass)
    active = [f"{i:032x}" for i in range(meters) if i % 4 != 3]

    # Every entry has polling turned off (as a user can): no timer of either
    # integration polls by itself, only the cycles below do.
    ours, ours_entry = await set_up_ours(hass, simulator)
    coordinator = ours_entry.runtime_data.coordinator

    # Home Assistant's discovergy, its client pointed at the simulator.
    monkeypatch.setattr(pydiscovergy.discovergy, "API_BASE", simulator.url)
    refused = _discovergy_entry()
    # With the simulator's default answer for an inactive meter (400), its
    # first refresh fails and so does its setup.
    refused_side = Side("discovergy, inactive meters refused")
    await _setup(hass, simulator, refused, refused_side)
    refused_state = refused.state
    await hass.config_entries.async_remove(refused.entry_id)
    simulator.ask("empty 1")
    theirs, theirs_entry = await set_up_discovergy(hass, simulator)
    coordinators = theirs_entry.runtime_data

    # The floor: the same readings asked for by a bare aiohttp client, four
    # at a time as this integration does, with HTTP Basic auth.
    floor = Side("bare aiohttp")
    headers = {
        "Authorization": aiohttp.encode_basic_auth(DEMO_EMAIL, DEMO_PASSWORD),
        "Accept": "application/json, text/plain;q=0.9",
    }
    session = aiohttp.ClientSession(headers=headers)

    async def poll_floor() -> None:
        queue = iter(active)

        async def worker() -> None:
            for meter_id in queue:
                async with session.get(
                    f"{simulator.url}/last_reading", params={"meterId": meter_id}
                ) as response:
                    json.loads(await response.read())

        await asyncio.gather(*(worker() for _ in range(4)))

    async def poll_ours() -> None:
        await coordinator.async_refresh()

    async def poll_theirs() -> None:
        # Each meter's coordinator refreshes on its own timer; here four at a
        # time, as the others ask.
        queue = iter(coordinators)

        async def worker() -> None:
            for meter in queue:
                await meter.async_refresh()

        await asyncio.gather(*(worker() for _ in range(4)))

    # Every coordinator at once, as their timers would fire if they had been
    # set up together: httpx queues them on its pool (and under load some
    # may time out after pydiscovergy's 10 s).
    all_at_once = Side("discovergy, all")

    async def poll_theirs_at_once() -> None:
        await asyncio.gather(*(c.async_refresh() for c in coordinators))
        all_at_once.failed += sum(1 for c in coordinators if not c.last_update_success)

    polls = (
        (ours, poll_ours),
        (theirs, poll_theirs),
        (all_at_once, poll_theirs_at_once),
        (floor, poll_floor),
    )
    try:
        for cycle in range(CYCLES[meters] + 1):
            # Interleaved, so that a change in the machine's load hits all.
            for side, poll in polls:
                await _cycle(hass, simulator, poll, side if cycle else None)
    finally:
        await session.close()
    assert coordinator.last_update_success

    registry = er.async_get(hass)
    for side, entry in ((ours, ours_entry), (theirs, theirs_entry)):
        entities = er.async_entries_for_config_entry(registry, entry.entry_id)
        side.entities = len(entities)
        side.enabled = sum(1 for e in entities if not e.disabled)
    _report(
        meters,
        len(active),
        refused_state,
        refused_side,
        [ours, theirs, all_at_once, floor],
    )


def _report(
    meters: int,
    active: int,
    refused_state: ConfigEntryState,
    refused: Side,
    sides: list[Side],
) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        f"\ninexogy polling, {meters} meters ({active} active), "
        f"{os.cpu_count()} cores, load average {load}; "
        f"medians of {CYCLES[meters]} cycles",
        f"  discovergy with inactive meters refused (400): {refused_state.value}"
        f" after {refused.setup_requests.total()} requests",
    ]
    for side in sides[:2]:
        setup = ", ".join(f"{p} {n}" for p, n in sorted(side.setup_requests.items()))
        lines.append(
            f"  {side.name} setup: {side.setup_requests.total()} requests ({setup}); "
            f"wall {side.setup_wall * 1e3:.0f} ms, "
            f"loop CPU {side.setup_loop_cpu * 1e3:.0f} ms; "
            f"{side.entities} entities, {side.enabled} enabled"
        )
    lines.append(
        "  per cycle       requests  wall ms  loop CPU ms  process CPU ms"
        "  loop CPU per active meter"
    )
    for side in sides:
        loop_cpu = side.median(side.loop_cpu)
        lines.append(
            f"  {side.name:<17}{side.median(side.requests):>6.0f}"
            f"{side.median(side.wall) * 1e3:>9.1f}{loop_cpu * 1e3:>13.1f}"
            f"{side.median(side.cpu) * 1e3:>16.1f}"
            f"{loop_cpu / active * 1e6:>20.0f} us"
        )
    ours_cpu, theirs_cpu, at_once_cpu, floor_cpu = (s.median(s.loop_cpu) for s in sides)
    lines.append(
        f"  loop CPU ratios: ours / discovergy {ours_cpu / theirs_cpu:.2f} "
        f"(all at once: {ours_cpu / at_once_cpu:.2f}), "
        f"ours / floor {ours_cpu / floor_cpu:.1f}, discovergy / floor "
        f"{theirs_cpu / floor_cpu:.1f} (all at once: {at_once_cpu / floor_cpu:.1f}); "
        f"discovergy refreshes failed all at once: {sides[2].failed}"
    )
    print("\n".join(lines))
