"""Setting up and unloading an account."""

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er
import pytest

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.providers.inexogy import (
    ID as PROVIDER_INEXOGY,
)
from custom_components.smart_meter_cloud.providers.ready import ID as PROVIDER_READY
from tests.simulator.inexogy import INACTIVE_METER_ID, Fault

from .conftest import Cloud, Inexogy, entry_state, state

# Meters the demo accounts list that have not measured yet.
INACTIVE = {PROVIDER_INEXOGY: {INACTIVE_METER_ID}, PROVIDER_READY: set()}


async def test_setup_and_unload(
    hass: HomeAssistant, cloud: Cloud, cloud_entry: ConfigEntry
) -> None:
    assert cloud_entry.state is ConfigEntryState.LOADED
    devices = dr.async_entries_for_config_entry(
        dr.async_get(hass), cloud_entry.entry_id
    )
    ids = {next(iter(d.identifiers))[1] for d in devices}
    measuring = {m.meter_id for m in cloud.sim.meters} - INACTIVE[cloud.provider]
    assert ids == {f"{cloud.provider}_{meter_id}" for meter_id in measuring}
    assert await hass.config_entries.async_unload(cloud_entry.entry_id)
    assert entry_state(cloud_entry) is ConfigEntryState.NOT_LOADED
    entities = er.async_entries_for_config_entry(
        er.async_get(hass), cloud_entry.entry_id
    )
    assert entities
    assert all(
        state(hass, e.entity_id) == "unavailable" for e in entities if not e.disabled
    )
    assert hass.config_entries.async_entries(DOMAIN) == [cloud_entry]


@pytest.mark.parametrize(
    ("fault", "expected", "key"),
    [
        (Fault.SERVER_ERROR, ConfigEntryState.SETUP_RETRY, "cannot_connect"),
        (Fault.RATE_LIMITED, ConfigEntryState.SETUP_RETRY, "rate_limited"),
        (None, ConfigEntryState.SETUP_ERROR, "invalid_auth"),
    ],
)
async def test_setup_failure_tells_why(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    fault: Fault | None,
    expected: ConfigEntryState,
    key: str,
) -> None:
    await hass.config_entries.async_unload(inexogy_entry.entry_id)
    if fault is None:
        inexogy.sim.revoke_tokens()
    else:
        inexogy.sim.fault = fault
    await hass.config_entries.async_setup(inexogy_entry.entry_id)
    assert inexogy_entry.state is expected
    assert inexogy_entry.error_reason_translation_domain == DOMAIN
    assert inexogy_entry.error_reason_translation_key == key
