"""Smart Meter Cloud: cloud-connected utility meters in Home Assistant.

Adding an account imports this package and its config flow just to show the
first form, so both stay light. What runs an entry (the cloud clients and
oauthlib, the coordinator, the statistics, the pushes) is in .entry and
.services, imported in Home Assistant's import executor, off the event loop,
when the integration or an entry is first set up.
"""

from typing import TYPE_CHECKING

from homeassistant.core import HomeAssistant
from homeassistant.helpers import config_validation as cv, device_registry as dr
from homeassistant.helpers.importlib import async_import_module
from homeassistant.helpers.typing import ConfigType

from .const import DOMAIN

if TYPE_CHECKING:
    from .runtime import SmartMeterConfigEntry

CONFIG_SCHEMA = cv.config_entry_only_config_schema(DOMAIN)


async def _async_load(hass: HomeAssistant, module: str) -> None:
    """Import one of our modules off the event loop; then importing it is a lookup."""
    await async_import_module(hass, f"{__name__}.{module}")


async def async_setup(hass: HomeAssistant, config: ConfigType) -> bool:
    """Register the integration's actions."""
    await _async_load(hass, "services")
    from .services import async_setup_services

    async_setup_services(hass)
    return True


async def async_migrate_entry(
    hass: HomeAssistant, entry: SmartMeterConfigEntry
) -> bool:
    """Bring an entry of an earlier version up to date, once."""
    await _async_load(hass, "migrations")
    from .migrations import async_migrate_entry as migrate_entry

    return await migrate_entry(hass, entry)


async def async_setup_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> bool:
    """Set up a cloud account from a config entry."""
    await _async_load(hass, "entry")
    from .entry import async_setup_entry as setup_entry

    return await setup_entry(hass, entry)


async def async_unload_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> bool:
    """Unload a config entry; a cloud stops pushing once that has worked."""
    await _async_load(hass, "entry")
    from .entry import async_unload_entry as unload_entry

    return await unload_entry(hass, entry)


async def async_remove_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> None:
    """Delete what a removed entry leaves, loaded or not; never raises."""
    await _async_load(hass, "entry")
    from .entry import async_remove_entry as remove_entry

    await remove_entry(hass, entry)


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: SmartMeterConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let a user delete a meter's device, unless the meter is still polled."""
    await _async_load(hass, "entry")
    from .entry import async_remove_config_entry_device as remove_device

    return await remove_device(hass, entry, device)
