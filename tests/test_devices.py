"""Meters joining and leaving an account, without a reload; deleting a device."""

from collections import Counter
from datetime import timedelta
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import (
    device_registry as dr,
    entity_platform,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from pytest_homeassistant_custom_component.typing import WebSocketGenerator

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.entity import MAX_ENABLED_PER_METER
from custom_components.smart_meter_cloud.providers.inexogy import (
    ID as PROVIDER_INEXOGY,
)
from custom_components.smart_meter_cloud.providers.ready import ID as PROVIDER_READY
from tests.simulator import ready as ready_sim
from tests.simulator.inexogy import (
    ALIAS_METER_ID,
    ELECTRICITY_METER_ID,
    FIRST_MEASUREMENT_MS,
    GAS_METER_ID,
    INACTIVE_METER_ID,
    WATER_METER_ID,
    Fault,
    Total,
    demo_meters,
)

from .conftest import (
    HISTORY_DAYS,
    Cloud,
    Inexogy,
    Ready,
    add_ready_entry,
    poll,
    settle,
    state,
)

NEW_POWER = "sensor.electricity_meter_5678_power"  # the inactive meter's serial
NEW_IMPORT = "sensor.electricity_meter_5678_energy_import"
GAS = "sensor.gas_meter_5678_gas_volume"
HOUR = timedelta(hours=1)


def device(
    device_registry: dr.DeviceRegistry, entry: ConfigEntry, provider: str, meter: str
) -> dr.DeviceEntry | None:
    return device_registry.async_get_device_by_identifier(
        (DOMAIN, f"{provider}_{meter}"), entry.entry_id
    )


def start_measuring(inexogy: Inexogy) -> None:
    """The account's inactive meter gets its first measurement."""
    meter = inexogy.sim.meter(INACTIVE_METER_ID)
    meter.data["firstMeasurementTime"] = FIRST_MEASUREMENT_MS
    meter.fields["energy"] = Total(10_000_000_000_000, 1_000_000_000)


async def choose(hass: HomeAssistant, entry: ConfigEntry, *meters: str) -> None:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"],
        {"scan_interval": 30, "history_days": HISTORY_DAYS, "meters": list(meters)},
    )
    await hass.async_block_till_done(wait_background_tasks=True)


# --- inexogy -----------------------------------------------------------------------


async def test_devices_name_maker_and_model_readably(
    hass: HomeAssistant,
    inexogy_entry: ConfigEntry,
    ready_entry: ConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """The makers and models of both clouds read as their makers write them."""

    def shown(
        entry: ConfigEntry, provider: str, meter: str
    ) -> tuple[str | None, str | None]:
        found = device(device_registry, entry, provider, meter)
        assert found is not None, meter
        return found.manufacturer, found.model

    # Their types (EASYMETER, ESY, ELSTER) name the maker again: no model.
    assert shown(inexogy_entry, "inexogy", ELECTRICITY_METER_ID) == ("EasyMeter", None)
    assert shown(inexogy_entry, "inexogy", ALIAS_METER_ID) == ("EasyMeter", None)
    assert shown(inexogy_entry, "inexogy", GAS_METER_ID) == ("Elster", None)
    # Its type only says "WATER" again: no model rather than that.
    assert shown(inexogy_entry, "inexogy", WATER_METER_ID) == ("Sensus", None)
    assert shown(ready_entry, "kamstrup_ready", ready_sim.WATER_METER_ID) == (
        "Kamstrup",
        "flowIQ 3100",
    )


async def test_meter_starting_to_measure_appears(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    runtime = inexogy_entry.runtime_data
    start_measuring(inexogy)
    await poll(hass, freezer)
    # The meter list is not asked for with every poll.
    assert inexogy.sim.request_count("/meters") == 2  # config flow + setup
    assert hass.states.get(NEW_POWER) is None

    await poll(hass, freezer, HOUR.total_seconds())
    assert device(device_registry, inexogy_entry, "inexogy", INACTIVE_METER_ID)
    assert float(state(hass, NEW_IMPORT)) > 1000
    assert hass.states.get(NEW_POWER) is not None
    assert inexogy_entry.runtime_data is runtime  # no reload
    assert f"Meter {INACTIVE_METER_ID} joined the account" in caplog.text


async def test_meter_leaving_takes_its_device(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    runtime = inexogy_entry.runtime_data
    gas_unique_id = f"inexogy_{GAS_METER_ID}_volume"
    assert entity_registry.async_get_entity_id("sensor", DOMAIN, gas_unique_id)
    inexogy.sim.meters = [m for m in inexogy.sim.meters if m.meter_id != GAS_METER_ID]
    # Missing from one list, or two, it stays: unavailable, with a reason.
    for _ in range(2):
        await poll(hass, freezer, HOUR.total_seconds())
        assert device(device_registry, inexogy_entry, "inexogy", GAS_METER_ID)
        assert state(hass, GAS) == "unavailable"
    await poll(hass, freezer, HOUR.total_seconds())
    assert not device(device_registry, inexogy_entry, "inexogy", GAS_METER_ID)
    assert not entity_registry.async_get_entity_id("sensor", DOMAIN, gas_unique_id)
    assert hass.states.get(GAS) is None
    assert GAS_METER_ID not in runtime.coordinator.data.readings
    assert inexogy_entry.runtime_data is runtime

    # Back again, it gets its device and entities once more.
    inexogy.sim.meters += [m for m in demo_meters() if m.meter_id == GAS_METER_ID]
    await poll(hass, freezer, HOUR.total_seconds())
    assert device(device_registry, inexogy_entry, "inexogy", GAS_METER_ID)
    assert hass.states.get(GAS) is not None


async def test_an_empty_list_deletes_nothing(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The cloud answers its meter list with nothing, now and then."""
    devices = dr.async_entries_for_config_entry(device_registry, inexogy_entry.entry_id)
    entities = er.async_entries_for_config_entry(
        entity_registry, inexogy_entry.entry_id
    )
    inexogy.sim.list_fault = Fault.EMPTY_LIST
    await poll(hass, freezer, HOUR.total_seconds())
    inexogy.sim.list_fault = Fault.NONE
    await poll(hass, freezer, HOUR.total_seconds())
    assert (
        dr.async_entries_for_config_entry(device_registry, inexogy_entry.entry_id)
        == devices
    )
    assert (
        er.async_entries_for_config_entry(entity_registry, inexogy_entry.entry_id)
        == entities
    )
    assert state(hass, GAS) != "unavailable"
    # Nor does one at setup.
    inexogy.sim.list_fault = Fault.EMPTY_LIST
    await hass.config_entries.async_reload(inexogy_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(
        dr.async_entries_for_config_entry(device_registry, inexogy_entry.entry_id)
    ) == len(devices)


async def test_listing_failure_keeps_the_meters(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    listed = inexogy.sim.request_count("/meters")
    inexogy.sim.list_fault = Fault.SERVER_ERROR
    await poll(hass, freezer, HOUR.total_seconds())
    inexogy.sim.list_fault = Fault.NONE
    assert inexogy.sim.request_count("/meters") == listed + 1
    assert device(device_registry, inexogy_entry, "inexogy", GAS_METER_ID)
    # Asked again at the next poll, not an hour later.
    await poll(hass, freezer)
    assert inexogy.sim.request_count("/meters") == listed + 2
    assert state(hass, GAS) != "unavailable"


async def test_chosen_meters_stay_chosen(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    await choose(hass, inexogy_entry, ELECTRICITY_METER_ID, GAS_METER_ID)
    assert inexogy_entry.options["meters"] == [ELECTRICITY_METER_ID, GAS_METER_ID]
    start_measuring(inexogy)
    caplog.set_level(logging.INFO)
    await poll(hass, freezer, HOUR.total_seconds())
    assert not device(device_registry, inexogy_entry, "inexogy", INACTIVE_METER_ID)
    assert hass.states.get(NEW_POWER) is None
    assert "choose it in the options" in caplog.text
    # The options offer it, not chosen.
    result = await hass.config_entries.options.async_init(inexogy_entry.entry_id)
    schema = result["data_schema"]
    assert schema is not None
    field = next(k for k in schema.schema if k == "meters")
    offered = schema.schema[field].config["options"]
    # Labelled with the name its device will have.
    assert {"value": INACTIVE_METER_ID, "label": "Electricity meter 5678"} in offered
    assert field.description["suggested_value"] == [
        ELECTRICITY_METER_ID,
        GAS_METER_ID,
    ]
    hass.config_entries.options.async_abort(result["flow_id"])


async def test_choosing_every_meter_follows_the_account(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    coordinator = inexogy_entry.runtime_data.coordinator
    await choose(hass, inexogy_entry, ELECTRICITY_METER_ID)
    await choose(hass, inexogy_entry, *coordinator.available_meters)
    assert "meters" not in inexogy_entry.options
    start_measuring(inexogy)
    await poll(hass, freezer, HOUR.total_seconds())
    assert hass.states.get(NEW_POWER) is not None


async def test_choice_survives_options_saved_while_unloaded(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    await choose(hass, inexogy_entry, GAS_METER_ID)
    await hass.config_entries.async_unload(inexogy_entry.entry_id)
    result = await hass.config_entries.options.async_init(inexogy_entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 60, "history_days": 30}
    )
    assert inexogy_entry.options["meters"] == [GAS_METER_ID]
    assert inexogy_entry.options["scan_interval"] == 60


# --- Kamstrup READY ----------------------------------------------------------------


async def test_ready_meter_joining_and_leaving(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    device_registry: dr.DeviceRegistry,
) -> None:
    runtime = ready_entry.runtime_data
    new = ready_sim.generated_meter(5)
    ready.sim.set_meter_count(6)
    freezer.tick(HOUR)  # READY is polled hourly
    async_fire_time_changed(hass)
    await settle(hass, ready)
    assert device(device_registry, ready_entry, "kamstrup_ready", new.meter_id)
    assert hass.states.get("sensor.water_meter_0005_water_volume") is not None
    leak = hass.states.get("binary_sensor.water_meter_0005_leak")
    assert leak is not None
    assert leak.state == "off"
    assert ready_entry.runtime_data is runtime

    ready.sim.set_meter_count(5)
    for hour in range(3):
        assert device(device_registry, ready_entry, "kamstrup_ready", new.meter_id)
        freezer.tick(HOUR)
        async_fire_time_changed(hass)
        await settle(hass, ready)
        assert hour < 2 or not device(
            device_registry, ready_entry, "kamstrup_ready", new.meter_id
        )
    assert hass.states.get("binary_sensor.water_meter_0005_leak") is None
    assert ready_entry.state is ConfigEntryState.LOADED


# --- deleting a device -------------------------------------------------------------


async def remove_device(
    hass: HomeAssistant, hass_ws_client: WebSocketGenerator, device_id: str
) -> bool:
    assert await async_setup_component(hass, "config", {})
    client = await hass_ws_client(hass)
    await client.send_json_auto_id(
        {"type": "config/device_registry/remove", "device_id": device_id}
    )
    response = await client.receive_json()
    return bool(response["success"])


# A meter each demo account polls.
POLLED = {PROVIDER_INEXOGY: GAS_METER_ID, PROVIDER_READY: ready_sim.WATER_METER_ID}


@pytest.fixture
async def device_settings(hass: HomeAssistant) -> None:
    """Home Assistant's device settings, set up before a server freezes its routes."""
    for component in ("websocket_api", "config"):
        assert await async_setup_component(hass, component, {})


@pytest.mark.usefixtures("device_settings")
async def test_only_a_device_of_no_polled_meter_can_be_deleted(
    hass: HomeAssistant,
    cloud: Cloud,
    cloud_entry: ConfigEntry,
    device_registry: dr.DeviceRegistry,
    hass_ws_client: WebSocketGenerator,
) -> None:
    meter = POLLED[cloud.provider]
    polled = device(device_registry, cloud_entry, cloud.provider, meter)
    assert polled is not None
    assert not await remove_device(hass, hass_ws_client, polled.id)
    assert device_registry.async_get(polled.id)

    stale = device_registry.async_get_or_create(
        config_entry_id=cloud_entry.entry_id,
        identifiers={(DOMAIN, f"{cloud.provider}_gone")},
    )
    assert await remove_device(hass, hass_ws_client, stale.id)
    assert not device_registry.async_get(stale.id)

    # Unloaded, any device may go; setup brings back those still polled.
    await hass.config_entries.async_unload(cloud_entry.entry_id)
    assert await remove_device(hass, hass_ws_client, polled.id)
    await hass.config_entries.async_setup(cloud_entry.entry_id)
    await cloud.settle()
    assert device(device_registry, cloud_entry, cloud.provider, meter)


# --- Home Assistant's limit of enabled entities per entry --------------------------


async def test_no_meter_enables_more_than_the_bound(
    hass: HomeAssistant,
    inexogy_entry: ConfigEntry,
    ready_entry: ConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    """The bound that tells a large account holds for every demo meter."""
    per_device = Counter(
        entity.device_id
        for entry in (inexogy_entry, ready_entry)
        for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if not entity.disabled
    )
    assert len(per_device) == len(inexogy_entry.runtime_data.coordinator.meters) + len(
        ready_entry.runtime_data.coordinator.meters
    )
    assert max(per_device.values()) <= MAX_ENABLED_PER_METER


def ours(issue_registry: ir.IssueRegistry) -> list[str]:
    return [issue_id for domain, issue_id in issue_registry.issues if domain == DOMAIN]


def enabled(entity_registry: er.EntityRegistry, entry: ConfigEntry) -> list[str]:
    return [
        e.entity_id
        for e in er.async_entries_for_config_entry(entity_registry, entry.entry_id)
        if not e.disabled
    ]


async def test_many_meters_start_their_diagnostics_disabled(
    hass: HomeAssistant,
    ready: Ready,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Fewer than 20 entities a meter fit: the demo tenant counts as large.
    limit = MAX_ENABLED_PER_METER * len(ready.sim.meters) - 1
    monkeypatch.setattr(entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY", limit)
    entry = await add_ready_entry(hass, ready)
    tamper = entity_registry.async_get("binary_sensor.water_meter_4567_tamper")
    assert tamper is not None
    assert tamper.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert hass.states.get("binary_sensor.water_meter_4567_leak") is not None
    assert hass.states.get("sensor.water_meter_4567_water_volume") is not None
    assert len(enabled(entity_registry, entry)) < limit
    assert ours(issue_registry) == []


async def test_a_full_entry_asks_for_fewer_meters(
    hass: HomeAssistant,
    ready: Ready,
    entity_registry: er.EntityRegistry,
    issue_registry: ir.IssueRegistry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(entity_platform, "MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY", 10)
    entry = await add_ready_entry(hass, ready)
    # Home Assistant refused the rest.
    assert len(enabled(entity_registry, entry)) == 10
    issue = issue_registry.async_get_issue(DOMAIN, f"entity_limit_{entry.entry_id}")
    assert issue is not None
    assert issue.translation_placeholders == {
        "title": entry.title,
        "limit": "10",
        "meters": str(len(ready.sim.meters)),
    }

    await choose(hass, entry, ready_sim.WATER_METER_ID)
    assert len(enabled(entity_registry, entry)) < 10
    assert hass.states.get("binary_sensor.water_meter_4567_leak") is not None
    assert ours(issue_registry) == []
