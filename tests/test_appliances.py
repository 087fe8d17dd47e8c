"""Appliances from inexogy's disaggregation, through Home Assistant.

Their hourly statistics (backfill, continuation, late hours), their today
sensors, how they come and go, their runs in the logbook, what a meter
without them costs, and a cloud that fails on their endpoints.
"""

from dataclasses import replace
from datetime import datetime, timedelta

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.logbook.helpers import async_determine_event_types
from homeassistant.components.logbook.processor import EventProcessor
from homeassistant.components.recorder.statistics import (
    list_statistic_ids,
)
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.typing import (
    RecorderInstanceContextManager,
)

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.ids import device_identifier
from custom_components.smart_meter_cloud.statistics.appliances import (
    FIRST_RUNS,
)
from tests.simulator.inexogy import (
    ALIAS_METER_ID,
    ELECTRICITY_METER_ID,
    Fault,
    InexogySimulator,
    Missing,
    SimAppliance,
)
from tests.simulator.inexogy.appliances import activities

from .conftest import (
    T0,
    H,
    Inexogy,
    SecretWatch,
    add_inexogy_entry,
    assert_hourly,
    import_history,
    poll,
    restarted,
    save_options,
    state,
    statistic_rows,
)

APPLIANCES = (
    "base_load_1",
    "refrigerator_1",
    "heat_pump_1",
    "washing_machine_1",
    "dishwasher_1",
)
# The frozen clock's hour (ten seconds past it), and the backfill's first.
NOW = T0 + 12 * H
FIRST = NOW - 24 * H
SENSOR = "sensor.electricity_meter_3456_{}_today"


def statistic_id(appliance: str) -> str:
    return f"{DOMAIN}:inexogy_{ELECTRICITY_METER_ID}_appliance_{appliance}"


def api_name(appliance: str) -> str:
    """The simulator's name of an appliance: base_load_1 -> BASE_LOAD-1."""
    kind, number = appliance.rsplit("_", 1)
    return f"{kind.upper()}-{number}"


def produced(sim: InexogySimulator, appliance: str, hour: datetime) -> float:
    """KWh the simulator's appliance used in the hour from `hour`."""
    energy = sim.appliance_energy(ELECTRICITY_METER_ID, int(hour.timestamp()) * 1000)
    return energy[api_name(appliance)]


async def hourly_changes(hass: HomeAssistant, key: str) -> dict[datetime, float]:
    """Each stored hour's change, as the energy dashboard reads it."""
    rows = await statistic_rows(hass, key, frozenset({"change"}))
    return {dt_util.utc_from_timestamp(row["start"]): row["change"] for row in rows}


async def assert_hours(
    hass: HomeAssistant,
    sim: InexogySimulator,
    end: datetime,
    appliances: tuple[str, ...] = APPLIANCES,
    first: datetime = FIRST,
) -> None:
    """Each appliance has every hour from first to end once, as it used it."""
    hours = int((end - first) / H)
    for appliance in appliances:
        key = statistic_id(appliance)
        rows = await statistic_rows(hass, key)
        assert len(rows) == hours, appliance
        assert_hourly(rows)
        assert rows[0]["start"] == first.timestamp()
        changes = await hourly_changes(hass, key)
        expected = {
            first + i * H: produced(sim, appliance, first + i * H) for i in range(hours)
        }
        assert changes == pytest.approx(expected), appliance
        assert rows[-1]["sum"] == pytest.approx(sum(expected.values()))


# --- statistics -----------------------------------------------------------------


@pytest.mark.parametrize("german", [False, True], ids=["english", "german"])
async def test_a_day_backfilled_then_hour_by_hour(
    hass: HomeAssistant, inexogy: Inexogy, frozen: FrozenDateTimeFactory, german: bool
) -> None:
    # The 2020 example keys the quarters by German names: the same appliances.
    inexogy.sim.german_appliances = german
    entry = await add_inexogy_entry(hass, inexogy.url)
    await assert_hours(hass, inexogy.sim, NOW)
    for hour in (1, 2):
        await poll(hass, frozen, 3600)
        await assert_hours(hass, inexogy.sim, NOW + hour * H)
    # A reload carries on from the last stored hour: none doubled or lost.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await poll(hass, frozen, 3600)
    await assert_hours(hass, inexogy.sim, NOW + 3 * H)
    # Named like the meter's other statistics, to pick in the energy settings.
    found = await get_instance(hass).async_add_executor_job(
        list_statistic_ids, hass, {statistic_id("dishwasher_1")}
    )
    assert found[0]["name"] == "Electricity meter 3456 Dishwasher 1"
    assert found[0]["statistics_unit_of_measurement"] == "kWh"


async def test_the_import_action_takes_appliances_along(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    frozen: FrozenDateTimeFactory,
) -> None:
    # A day before the imported history: the stored hours keep their energy.
    await import_history(hass, inexogy_entry.entry_id, FIRST - 24 * H, FIRST)
    await assert_hours(hass, inexogy.sim, NOW, first=FIRST - 24 * H)
    # Hours imported again amid stored ones change nothing.
    await import_history(hass, inexogy_entry.entry_id, FIRST + 2 * H, FIRST + 20 * H)
    await assert_hours(hass, inexogy.sim, NOW, first=FIRST - 24 * H)
    await poll(hass, frozen, 3600)
    await assert_hours(hass, inexogy.sim, NOW + H, first=FIRST - 24 * H)


async def test_the_import_action_takes_the_clouds_corrections(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    """Hours the cloud now tells otherwise change; those outside the range stay."""
    key = statistic_id("base_load_1")
    before = await hourly_changes(hass, key)
    mix = inexogy.sim.appliances[ELECTRICITY_METER_ID]
    inexogy.sim.appliances[ELECTRICITY_METER_ID] = [
        replace(a, per_quarter=a.per_quarter // 2) if a.kind == "BASE_LOAD" else a
        for a in mix
    ]
    start, end = FIRST + 2 * H, FIRST + 20 * H
    await import_history(hass, inexogy_entry.entry_id, start, end)
    after = await hourly_changes(hass, key)
    assert after == pytest.approx(
        {
            hour: produced(inexogy.sim, "base_load_1", hour)
            if start <= hour < end
            else used
            for hour, used in before.items()
        }
    )
    assert after[start] == pytest.approx(before[start] / 2)
    assert_hourly(await statistic_rows(hass, key))


async def test_more_history_in_the_options_takes_appliances_along(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    frozen: FrozenDateTimeFactory,
) -> None:
    # Three days instead of one: the meter's history and its appliances'.
    await save_options(hass, inexogy_entry, {"scan_interval": 30, "history_days": 3})
    await assert_hours(hass, inexogy.sim, NOW, first=NOW - 72 * H)
    await poll(hass, frozen, 3600)
    await assert_hours(hass, inexogy.sim, NOW + H, first=NOW - 72 * H)


@pytest.mark.parametrize(
    ("delay", "to_exclusive"),
    [(0.0, True), (0.5, False), (3.0, False), (3.0, True)],
)
async def test_late_hours_come_whole_and_once(
    hass: HomeAssistant,
    inexogy: Inexogy,
    frozen: FrozenDateTimeFactory,
    delay: float,
    to_exclusive: bool,
) -> None:
    sim = inexogy.sim
    sim.appliance_delay_hours = delay
    sim.appliance_to_exclusive = to_exclusive
    await add_inexogy_entry(hass, inexogy.url)
    # Only hours all of whose quarters came: half an hour late, the last
    # hour has two of its four and waits.
    late = timedelta(hours=delay)

    def published() -> datetime:
        return (dt_util.utcnow() - late).replace(minute=0, second=0)

    await assert_hours(hass, sim, published())
    for _ in range(3):
        await poll(hass, frozen, 3600)
        await assert_hours(hass, sim, published())
    # Published on time again: everything late comes at the next hour.
    sim.appliance_delay_hours = 0
    await poll(hass, frozen, 3600)
    await assert_hours(hass, sim, NOW + 4 * H)


async def test_appliance_requests_an_hour(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    frozen: FrozenDateTimeFactory,
) -> None:
    """The budget: per meter with appliances three requests an hour at most.

    A meter without (the second electricity meter) was asked once, at
    setup; the latest readings' polls are the same as without appliances.
    """
    sim = inexogy.sim
    paths = ("/devices", "/disaggregation", "/activities", "/last_reading")
    before = {path: sim.request_count(path) for path in paths}
    polls = 3 * 6
    for _ in range(polls):
        await poll(hass, frozen, 600)
    asked = {path: sim.request_count(path) - before[path] for path in paths}
    meters = len(inexogy_entry.runtime_data.coordinator.meters)
    assert asked == {
        "/devices": 3,
        "/disaggregation": 3,
        "/activities": 3,
        "/last_reading": polls * meters,
    }
    devices = [q["meterId"] for _, path, q in sim.requests if path.endswith("/devices")]
    assert devices.count(ALIAS_METER_ID) == 1


@pytest.mark.parametrize("missing", list(Missing))
async def test_a_meter_without_appliances_is_asked_once_a_day(
    hass: HomeAssistant,
    inexogy: Inexogy,
    frozen: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
    missing: Missing,
) -> None:
    sim = inexogy.sim
    sim.appliances.clear()
    sim.missing_appliances = missing
    entry = await add_inexogy_entry(hass, inexogy.url)
    # Both electricity meters, once each; gas and water have none to ask.
    assert sim.request_count("/devices") == 2
    for _ in range(3):
        await poll(hass, frozen, 3600)
    assert sim.request_count("/devices") == 2
    assert sim.request_count("/disaggregation") == 0
    assert sim.request_count("/activities") == 0
    await poll(hass, frozen, 24 * 3600)
    assert sim.request_count("/devices") == 4
    assert entry.state is ConfigEntryState.LOADED
    assert not [
        e
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if e.translation_key == "appliance_today"
    ]
    assert state(hass, "sensor.electricity_meter_3456_energy_import") != "unavailable"


# --- discovery and sensors ----------------------------------------------------------


async def test_appliances_come_and_go_without_a_reload(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    frozen: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    sim = inexogy.sim
    runtime = inexogy_entry.runtime_data
    assert hass.states.get(SENSOR.format("dishwasher_1")) is not None
    listed = sim.appliances[ELECTRICITY_METER_ID]
    dishwasher = next(a for a in listed if a.kind == "DISHWASHER")
    listed.remove(dishwasher)
    listed.append(SimAppliance("OVEN", "Backofen", 1, 100_000_000, 96, 68, 4))
    await poll(hass, frozen, 3600)
    assert inexogy_entry.runtime_data is runtime  # no reload
    assert state(hass, SENSOR.format("oven_1")) == str(produced(sim, "oven_1", NOW))
    # Missing from one listing, or two: the dishwasher stays, as a meter would.
    for _ in range(2):
        assert hass.states.get(SENSOR.format("dishwasher_1")) is not None
        await poll(hass, frozen, 3600)
    # Missing from three listings over two hours: it goes.
    assert hass.states.get(SENSOR.format("dishwasher_1")) is None
    assert entity_registry.async_get(SENSOR.format("dishwasher_1")) is None
    # The oven's history from the entry's; the dishwasher's hours stay.
    await assert_hours(hass, sim, NOW + 3 * H, ("oven_1", "heat_pump_1"))
    assert len(await statistic_rows(hass, statistic_id("dishwasher_1"))) == 24 + 2
    # Back again: its sensor too, and its hours carry on.
    listed.append(dishwasher)
    await poll(hass, frozen, 3600)
    assert hass.states.get(SENSOR.format("dishwasher_1")) is not None
    await assert_hours(hass, sim, NOW + 4 * H, ("dishwasher_1",))


async def test_an_appliance_gone_while_unloaded_goes_too(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    frozen: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    sim = inexogy.sim
    assert await hass.config_entries.async_unload(inexogy_entry.entry_id)
    sim.appliances[ELECTRICITY_METER_ID] = [
        a for a in sim.appliances[ELECTRICITY_METER_ID] if a.kind != "WASHING_MACHINE"
    ]
    assert await hass.config_entries.async_setup(inexogy_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    # Known from the registry, missing from the listings like any other.
    for _ in range(2):
        assert entity_registry.async_get(SENSOR.format("washing_machine_1"))
        await poll(hass, frozen, 3600)
    assert entity_registry.async_get(SENSOR.format("washing_machine_1")) is None
    assert hass.states.get(SENSOR.format("washing_machine_1")) is None
    assert hass.states.get(SENSOR.format("dishwasher_1")) is not None


@pytest.mark.freeze_time("2026-11-24T07:00:10+00:00")  # 23:00 in US/Pacific
async def test_today_counts_from_local_midnight(
    hass: HomeAssistant, inexogy: Inexogy, frozen: FrozenDateTimeFactory
) -> None:
    await add_inexogy_entry(hass, inexogy.url)
    midnight = dt_util.start_of_local_day()
    assert midnight == T0 + 8 * H
    now = dt_util.utcnow().replace(second=0)
    for appliance in APPLIANCES:
        today = sum(
            produced(inexogy.sim, appliance, midnight + i * H)
            for i in range(int((now - midnight) / H))
        )
        assert float(state(hass, SENSOR.format(appliance))) == pytest.approx(today)
    assert float(state(hass, SENSOR.format("base_load_1"))) > 1
    attributes = hass.states.get(SENSOR.format("base_load_1"))
    assert attributes is not None
    assert (
        attributes.attributes["friendly_name"]
        == "Electricity meter 3456 Base load 1 today"
    )
    assert "state_class" not in attributes.attributes
    # Midnight: a new day, nothing of it published yet.
    frozen.move_to("2026-11-24T08:00:00+00:00")
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=True)
    for appliance in APPLIANCES:
        assert float(state(hass, SENSOR.format(appliance))) == 0
    await poll(hass, frozen, 3610)
    assert float(state(hass, SENSOR.format("base_load_1"))) == pytest.approx(
        produced(inexogy.sim, "base_load_1", T0 + 32 * H)
    )


@pytest.mark.parametrize(
    ("language", "sensor", "statistic", "run"),
    [
        (
            "de",
            "Stromzähler 3456 Geschirrspüler 1 heute",
            "Stromzähler 3456 Geschirrspüler 1",
            "Wärmepumpe 1 lief 6 h, 0.60 kWh",
        ),
        (
            "da",
            "Elmåler 3456 Opvaskemaskine 1 i dag",
            "Elmåler 3456 Opvaskemaskine 1",
            "Varmepumpe 1 kørte 6 h, 0.60 kWh",
        ),
    ],
    ids=["de", "da"],
)
async def test_appliances_speak_home_assistants_language(
    hass: HomeAssistant,
    inexogy: Inexogy,
    language: str,
    sensor: str,
    statistic: str,
    run: str,
) -> None:
    await hass.config.async_update(language=language)
    assert await async_setup_component(hass, "logbook", {})
    entry = await add_inexogy_entry(hass, inexogy.url)
    entity = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, f"inexogy_{ELECTRICITY_METER_ID}_appliance_dishwasher_1"
    )
    assert entity is not None
    found = hass.states.get(entity)
    assert found is not None
    assert found.attributes["friendly_name"] == sensor
    names = await get_instance(hass).async_add_executor_job(
        list_statistic_ids, hass, {statistic_id("dishwasher_1")}
    )
    assert names[0]["name"] == statistic
    assert run in [text for _, text in await logbook(hass, entry)]


# --- logbook ------------------------------------------------------------------------


async def logbook(hass: HomeAssistant, entry: ConfigEntry) -> list[tuple[float, str]]:
    """When and what the two-way meter's device logged over the last two days.

    Asked as the device page asks: for the event types the logbook finds
    for the device itself, not ours named.
    """
    device = dr.async_get(hass).async_get_device_by_identifier(
        device_identifier("inexogy", ELECTRICITY_METER_ID), entry.entry_id
    )
    assert device is not None
    await async_wait_recording_done(hass)
    processor = EventProcessor(
        hass,
        tuple(async_determine_event_types(hass, None, [device.id])),
        device_ids=[device.id],
        timestamp=True,
    )
    now = dt_util.utcnow()
    events = await get_instance(hass).async_add_executor_job(
        processor.get_events, now - timedelta(days=2), now + H
    )
    return [(e["when"], f"{e['name']} {e['message']}") for e in events]


def expected_runs(sim: InexogySimulator, start: datetime) -> list[tuple[float, str]]:
    """When each run the simulator lists from `start` on ended, and its message."""
    names = {
        "REFRIGERATOR": "Refrigerator",
        "HEAT_PUMP": "Heat pump",
        "WASHING_MACHINE": "Washing machine",
        "DISHWASHER": "Dishwasher",
    }
    runs = activities(
        sim.appliances[ELECTRICITY_METER_ID],
        int(start.timestamp() * 1000),
        sim.now_ms(),
        sim.now_ms(),
    )
    found = []
    for run in runs:
        minutes = (run["endTime"] - run["beginTime"]) // 60_000
        hours, rest = divmod(minutes, 60)
        duration = " ".join(
            part
            for part, shown in (
                (f"{hours} h", hours),
                (f"{rest} min", rest or not hours),
            )
            if shown
        )
        name = f"{names[run['deviceType']]} 1"
        message = f"ran {duration}, {run['energy'] / 1e10:.2f} kWh"
        found.append((run["endTime"] / 1000, f"{name} {message}"))
    return found


async def test_runs_reach_the_logbook_once_at_their_own_time(
    hass: HomeAssistant, inexogy: Inexogy, frozen: FrozenDateTimeFactory
) -> None:
    assert await async_setup_component(hass, "logbook", {})
    entry = await add_inexogy_entry(hass, inexogy.url)
    start = dt_util.utcnow() - FIRST_RUNS
    runs = expected_runs(inexogy.sim, start)
    assert await logbook(hass, entry) == runs
    assert "Heat pump 1 ran 6 h, 0.60 kWh" in [text for _, text in runs]
    # A reload, and the next hour: only the runs that ended since.
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    await poll(hass, frozen, 3600)
    assert await logbook(hass, entry) == expected_runs(inexogy.sim, start)
    assert len(await logbook(hass, entry)) == len(runs) + 1  # the fridge ran once more


# Stopping the first Home Assistant leaves its storage's delayed-write timer.
@pytest.mark.parametrize(
    ("persistent_database", "expected_lingering_timers"), [(True, True)]
)
async def test_a_restart_carries_on_from_the_last_hour_and_run(
    hass: HomeAssistant,
    inexogy: Inexogy,
    frozen: FrozenDateTimeFactory,
    async_test_recorder: RecorderInstanceContextManager,
    secret_watch: SecretWatch,
) -> None:
    assert await async_setup_component(hass, "logbook", {})
    entry = await add_inexogy_entry(hass, inexogy.url)
    start = dt_util.utcnow() - FIRST_RUNS
    await hass.async_stop()
    # Two hours later: their hours and runs, none twice.
    frozen.tick(2 * 3600)

    async def with_logbook(again: HomeAssistant) -> None:
        assert await async_setup_component(again, "logbook", {})

    async with restarted(
        async_test_recorder, entry, secret_watch, with_logbook
    ) as again:
        await assert_hours(again, inexogy.sim, NOW + 2 * H)
        assert await logbook(again, entry) == expected_runs(inexogy.sim, start)


# --- faults -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [Fault.SERVER_ERROR, Fault.RATE_LIMITED, Fault.MALFORMED_JSON, Fault.WRONG_SHAPE],
)
async def test_appliance_faults_leave_the_meter_alone(
    hass: HomeAssistant,
    inexogy: Inexogy,
    frozen: FrozenDateTimeFactory,
    fault: Fault,
) -> None:
    sim = inexogy.sim
    sim.appliance_fault = fault
    entry = await add_inexogy_entry(hass, inexogy.url)
    assert entry.state is ConfigEntryState.LOADED
    assert state(hass, "sensor.electricity_meter_3456_energy_import") != "unavailable"
    assert hass.states.get(SENSOR.format("dishwasher_1")) is None
    # Once it answers again, the appliances come at the next listing, with
    # their whole history.
    sim.appliance_fault = Fault.NONE
    await poll(hass, frozen, 3600)
    await assert_hours(hass, sim, NOW + H)
    before = state(hass, SENSOR.format("base_load_1"))
    # Failing once they are known: the sensors keep their day, the meter is
    # available, and the hours missed come with the next.
    sim.appliance_fault = fault
    await poll(hass, frozen, 3600)
    assert state(hass, SENSOR.format("base_load_1")) == before
    assert state(hass, "sensor.electricity_meter_3456_energy_import") != "unavailable"
    sim.appliance_fault = Fault.NONE
    await poll(hass, frozen, 3600)
    await assert_hours(hass, sim, NOW + 3 * H)
