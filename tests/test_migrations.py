"""Entries of earlier versions, and ids that change, keep what users built."""

from typing import Any

from homeassistant.config_entries import ConfigEntry, ConfigEntryState
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, entity_registry as er

from custom_components.smart_meter_cloud import config_flow, migrations
from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.smart_meter_cloud.migrations import async_rename_ids
from tests.simulator.inexogy import ELECTRICITY_METER_ID

from .conftest import IMPORT_ID, Inexogy, statistic_rows

RENAMED_ID = f"{DOMAIN}:inexogy_v2_{ELECTRICITY_METER_ID}_energy_import"


def _v2(old: str) -> str | None:
    """A made-up new scheme: `inexogy_` becomes `inexogy_v2_`, once."""
    prefix = "inexogy_" if ":" not in old else f"{DOMAIN}:inexogy_"
    if not old.startswith(prefix) or old.startswith(f"{prefix}v2_"):
        return None
    return old.replace(prefix, f"{prefix}v2_", 1)


async def test_ids_move_with_their_history(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    """A new id scheme keeps entity ids, devices and the energy dashboard's data."""
    entities = er.async_get(hass)
    before = {
        e.entity_id: e.unique_id
        for e in er.async_entries_for_config_entry(entities, inexogy_entry.entry_id)
    }
    rows = await statistic_rows(hass, IMPORT_ID)
    assert rows
    assert await hass.config_entries.async_unload(inexogy_entry.entry_id)

    for _ in range(2):  # a rename offered its own ids again changes nothing
        await async_rename_ids(
            hass, inexogy_entry, "inexogy", device=_v2, entity=_v2, statistic=_v2
        )

    after = {
        e.entity_id: e.unique_id
        for e in er.async_entries_for_config_entry(entities, inexogy_entry.entry_id)
    }
    assert after == {entity_id: _v2(old) for entity_id, old in before.items()}
    devices = dr.async_entries_for_config_entry(
        dr.async_get(hass), inexogy_entry.entry_id
    )
    assert devices
    assert all(
        name.startswith("inexogy_v2_") for d in devices for _, name in d.identifiers
    )
    assert await statistic_rows(hass, RENAMED_ID) == rows
    assert await statistic_rows(hass, IMPORT_ID) == []


async def test_import_progress_leaves_the_credentials(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    """0.2.0 kept how far history was imported among the credentials."""
    assert await hass.config_entries.async_unload(inexogy_entry.entry_id)
    hass.config_entries.async_update_entry(
        inexogy_entry,
        data={**inexogy_entry.data, "history_start": "2026-10-01T00:00:00+00:00"},
        minor_version=2,
    )
    assert await hass.config_entries.async_setup(inexogy_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert inexogy_entry.state is ConfigEntryState.LOADED
    assert inexogy_entry.minor_version == 3
    assert "history_start" not in inexogy_entry.data
    found = await async_get_config_entry_diagnostics(hass, inexogy_entry)
    assert found["history_start"] == "2026-10-01T00:00:00+00:00"


def test_new_entries_are_of_the_version_migrations_lead_to() -> None:
    flow = config_flow.SmartMeterCloudConfigFlow
    assert (flow.VERSION, flow.MINOR_VERSION) == (
        migrations.VERSION,
        migrations.MINOR_VERSION,
    )


async def test_removing_an_entry_forgets_its_progress(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    key = f"{DOMAIN}.{inexogy_entry.entry_id}.history"
    assert hass_storage[key]["data"]["start"]
    assert await hass.config_entries.async_remove(inexogy_entry.entry_id)
    assert key not in hass_storage
