"""Polling through the cloud's faults: unavailable with a reason, then back."""

import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.providers.inexogy import (
    ID as PROVIDER_INEXOGY,
)
from custom_components.smart_meter_cloud.providers.ready import ID as PROVIDER_READY
from tests.simulator.inexogy import (
    ELECTRICITY_METER_ID,
    GAS_METER_ID,
    INACTIVE_METER_ID,
    Fault,
)
from tests.simulator.ready import Fault as ReadyFault

from .conftest import (
    Cloud,
    Inexogy,
    add_inexogy_entry,
    entry_state,
    our_records,
    poll,
    state,
)

POWER = "sensor.electricity_meter_3456_power"
IMPORT = "sensor.electricity_meter_3456_energy_import"
GAS = "sensor.gas_meter_5678_gas_volume"


def polled_meters(inexogy: Inexogy) -> set[str]:
    return {
        params["meterId"]
        for _, path, params in inexogy.sim.requests
        if path == "/last_reading"
    }


async def test_values_follow_the_meter(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    first = float(state(hass, IMPORT))
    await poll(hass, freezer, 3600)
    assert float(state(hass, IMPORT)) > first
    raw = inexogy.sim.last_reading(ELECTRICITY_METER_ID)["values"]
    assert float(state(hass, IMPORT)) == pytest.approx(raw["energy"] / 1e10)
    assert float(state(hass, POWER)) == pytest.approx(raw["power"] / 1000)


async def test_inactive_meters_are_never_polled(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await poll(hass, freezer)
    assert ELECTRICITY_METER_ID in polled_meters(inexogy)
    assert INACTIVE_METER_ID not in polled_meters(inexogy)
    # Setup costs one meter list and one reading per active meter.
    assert inexogy.sim.request_count("/meters") == 2  # config flow + setup


async def test_one_failing_meter_leaves_the_others(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inexogy.sim.meter_faults[GAS_METER_ID] = Fault.SERVER_ERROR
    await poll(hass, freezer)
    await poll(hass, freezer)
    assert state(hass, GAS) == STATE_UNAVAILABLE
    assert state(hass, POWER) != STATE_UNAVAILABLE
    gone = our_records(caplog, GAS_METER_ID)
    assert len(gone) == 1
    assert gone[0].levelno == logging.WARNING

    del inexogy.sim.meter_faults[GAS_METER_ID]
    await poll(hass, freezer)
    await poll(hass, freezer)
    assert state(hass, GAS) != STATE_UNAVAILABLE
    back = our_records(caplog, GAS_METER_ID)
    assert len(back) == 2
    assert back[1].levelno == logging.INFO


# Entities of two meters of each demo account.
ENTITIES = {
    PROVIDER_INEXOGY: (POWER, GAS),
    PROVIDER_READY: (
        "sensor.water_meter_4567_water_volume",
        "sensor.heat_meter_4501_heat_energy",
    ),
}


@pytest.mark.parametrize(
    ("cloud", "fault", "reason"),
    [
        (PROVIDER_INEXOGY, Fault.SERVER_ERROR, "The cloud could not be reached"),
        (PROVIDER_INEXOGY, Fault.MALFORMED_JSON, "The cloud sent an unexpected answer"),
        (PROVIDER_READY, ReadyFault.SERVER_ERROR, "The cloud could not be reached"),
        (PROVIDER_READY, ReadyFault.NON_FINITE, "The cloud sent an unexpected answer"),
    ],
    indirect=["cloud"],
)
async def test_cloud_fault_makes_everything_unavailable_then_recovers(
    hass: HomeAssistant,
    cloud: Cloud,
    cloud_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    fault: Fault | ReadyFault,
    reason: str,
) -> None:
    first, second = ENTITIES[cloud.provider]
    cloud.sim.fault = fault
    await poll(hass, freezer, cloud.poll_interval)
    await poll(hass, freezer, cloud.poll_interval)
    await cloud.settle()
    assert state(hass, first) == STATE_UNAVAILABLE
    assert state(hass, second) == STATE_UNAVAILABLE
    assert len(our_records(caplog, reason)) == 1

    cloud.sim.fault = type(fault).NONE
    await poll(hass, freezer, cloud.poll_interval)
    await cloud.settle()
    assert state(hass, first) != STATE_UNAVAILABLE
    assert len(our_records(caplog, "recovered")) == 1


async def test_timeout(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    inexogy.sim.fault = Fault.TIMEOUT
    await poll(hass, freezer, wait=False)  # requests start and hang
    assert state(hass, POWER) != STATE_UNAVAILABLE
    await poll(hass, freezer, 25)  # past the client's timeout
    assert state(hass, POWER) == STATE_UNAVAILABLE
    inexogy.sim.fault = Fault.NONE
    await poll(hass, freezer)
    assert state(hass, POWER) != STATE_UNAVAILABLE


async def test_rate_limit_waits_for_retry_after(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    inexogy.sim.fault = Fault.RATE_LIMITED
    inexogy.sim.retry_after = 300
    await poll(hass, freezer)
    asked = inexogy.sim.request_count("/last_reading")
    inexogy.sim.fault = Fault.NONE
    for _ in range(9):  # 270 s of regular 30 s intervals: no request
        await poll(hass, freezer)
    assert inexogy.sim.request_count("/last_reading") == asked
    await poll(hass, freezer, 31)
    assert inexogy.sim.request_count("/last_reading") > asked
    assert state(hass, POWER) != STATE_UNAVAILABLE


async def test_all_zero_totals_are_dropped(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    total = state(hass, IMPORT)
    inexogy.sim.fault = Fault.ALL_ZERO_TOTALS
    await poll(hass, freezer, 600)
    assert state(hass, IMPORT) == total
    assert state(hass, POWER) != STATE_UNAVAILABLE
    inexogy.sim.fault = Fault.NONE
    await poll(hass, freezer)
    assert float(state(hass, IMPORT)) > float(total)


async def test_field_appearing_later_gets_its_entity(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    entity_registry: er.EntityRegistry,
) -> None:
    unique_id = f"inexogy_{ELECTRICITY_METER_ID}_frequency"
    assert entity_registry.async_get_entity_id("sensor", DOMAIN, unique_id) is None
    inexogy.sim.late_fields_visible = True
    await poll(hass, freezer)
    entity_id = entity_registry.async_get_entity_id("sensor", DOMAIN, unique_id)
    assert entity_id is not None
    # Noisy values arrive disabled; the user turns them on when wanted.
    entry = entity_registry.async_get(entity_id)
    assert entry is not None
    assert entry.disabled_by is er.RegistryEntryDisabler.INTEGRATION
    assert inexogy_entry.state is ConfigEntryState.LOADED


async def test_revoked_token_starts_reauth(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    inexogy.sim.revoke_tokens()
    await poll(hass, freezer)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]
    assert state(hass, POWER) == STATE_UNAVAILABLE


async def test_setup_retries_while_the_cloud_is_down(
    hass: HomeAssistant, inexogy: Inexogy, freezer: FrozenDateTimeFactory
) -> None:
    entry = await add_inexogy_entry(hass, inexogy.url)
    await hass.config_entries.async_unload(entry.entry_id)
    inexogy.sim.fault = Fault.SERVER_ERROR
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_RETRY
    inexogy.sim.fault = Fault.NONE
    await poll(hass, freezer, 120)
    assert entry_state(entry) is ConfigEntryState.LOADED


async def test_setup_with_a_revoked_token_asks_to_sign_in(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    entry = await add_inexogy_entry(hass, inexogy.url)
    await hass.config_entries.async_unload(entry.entry_id)
    inexogy.sim.revoke_tokens()
    await hass.config_entries.async_setup(entry.entry_id)
    assert entry.state is ConfigEntryState.SETUP_ERROR
    assert any(entry.async_get_active_flows(hass, {SOURCE_REAUTH}))


async def test_meter_leaving_the_account_takes_its_device(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    device_registry: dr.DeviceRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    identifier = (DOMAIN, f"inexogy_{GAS_METER_ID}")
    entry_id = inexogy_entry.entry_id
    assert device_registry.async_get_device_by_identifier(identifier, entry_id)
    inexogy.sim.meters = [m for m in inexogy.sim.meters if m.meter_id != GAS_METER_ID]
    await hass.config_entries.async_reload(inexogy_entry.entry_id)
    await hass.async_block_till_done()
    # Missing from one list it stays; missing from three, over hours, it goes.
    assert device_registry.async_get_device_by_identifier(identifier, entry_id)
    for _ in range(3):
        await poll(hass, freezer, 3600)
    assert not device_registry.async_get_device_by_identifier(identifier, entry_id)
    assert hass.states.get(GAS) is None
