"""Bring entries of earlier versions up to date, once, keeping what users built.

An id scheme that changes gets a step here that calls `async_rename_ids`:
devices, entities and statistics move, with their history and the user's
names, areas, automations and energy dashboard.
"""

from collections.abc import Callable
import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er

from .const import CONF_HISTORY_START, CONF_PROVIDER, DOMAIN
from .statistics import recorder
from .statistics.importer import progress_store

_LOGGER = logging.getLogger(__name__)

# The entry version this code writes; an entry of a newer one is refused.
VERSION = 1
MINOR_VERSION = 3

type Rename = Callable[[str], str | None]


async def async_migrate_entry(hass: HomeAssistant, entry: ConfigEntry) -> bool:
    """Take an entry through every step after its version."""
    if entry.version > VERSION:
        return False  # from a newer version: nothing to go back with
    if entry.minor_version < 2:
        # 1.1 could store extended history below zero.
        await recorder.async_mend_negative_sums(hass, entry.data[CONF_PROVIDER])
        hass.config_entries.async_update_entry(entry, minor_version=2)
    if entry.minor_version < 3:
        # 1.2 kept import progress among the credentials.
        data = dict(entry.data)
        if start := data.pop(CONF_HISTORY_START, None):
            await progress_store(hass, entry).async_save({"start": start})
        hass.config_entries.async_update_entry(entry, data=data, minor_version=3)
    return True


async def async_rename_ids(
    hass: HomeAssistant,
    entry: ConfigEntry,
    provider: str,
    *,
    device: Rename,
    entity: Rename,
    statistic: Rename,
) -> None:
    """Move an entry's devices, entities and statistics to new ids, history kept.

    Each rename answers the new id for an old one, or None to keep it; it
    must answer None for an id it already renamed, since the statistics
    of every entry of a provider are offered to it. Entity ids, names and
    areas stay the user's; the energy dashboard follows the statistics.
    """
    devices = dr.async_get(hass)
    for entry_device in dr.async_entries_for_config_entry(devices, entry.entry_id):
        identifiers = {
            (domain, new if domain == DOMAIN and (new := device(name)) else name)
            for domain, name in entry_device.identifiers
        }
        if identifiers != entry_device.identifiers:
            devices.async_update_device(entry_device.id, new_identifiers=identifiers)

    @callback
    def moved(entity_entry: er.RegistryEntry) -> dict[str, str] | None:
        new = entity(entity_entry.unique_id)
        return None if new is None else {"new_unique_id": new}

    await er.async_migrate_entries(hass, entry.entry_id, moved)
    for old in await recorder.async_statistic_ids(hass, provider):
        if (new := statistic(old)) is not None:
            await recorder.async_move(hass, old, new)
            _LOGGER.debug("Statistic %s is now %s", old, new)
    await recorder.async_written(hass)
