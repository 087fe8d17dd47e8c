"""Smart Meter Cloud: cloud-connected utility meters in Home Assistant."""

from homeassistant.const import CONF_ACCESS_TOKEN, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api.inexogy import DEFAULT_BASE_URL, InexogyClient, InexogyCredentials
from .api.models import MeterClient
from .const import (
    CONF_ACCESS_TOKEN_SECRET,
    CONF_BASE_URL,
    CONF_CONSUMER_KEY,
    CONF_CONSUMER_SECRET,
    CONF_PROVIDER,
    DOMAIN,
)
from .coordinator import SmartMeterConfigEntry, SmartMeterCoordinator

PLATFORMS = [Platform.SENSOR]


def create_client(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> MeterClient:
    """Build the provider's client from the entry's stored credentials."""
    data = entry.data
    return InexogyClient(
        async_get_clientsession(hass),
        base_url=data.get(CONF_BASE_URL, DEFAULT_BASE_URL),
        credentials=InexogyCredentials(
            data[CONF_CONSUMER_KEY],
            data[CONF_CONSUMER_SECRET],
            data[CONF_ACCESS_TOKEN],
            data[CONF_ACCESS_TOKEN_SECRET],
        ),
    )


async def async_setup_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> bool:
    """Set up a cloud account from a config entry."""
    coordinator = SmartMeterCoordinator(
        hass, entry, create_client(hass, entry), entry.data[CONF_PROVIDER]
    )
    await coordinator.async_config_entry_first_refresh()
    entry.runtime_data = coordinator
    _remove_stale_devices(hass, entry, coordinator)
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    return True


def _remove_stale_devices(
    hass: HomeAssistant,
    entry: SmartMeterConfigEntry,
    coordinator: SmartMeterCoordinator,
) -> None:
    """Drop devices of meters that left the account or were deselected."""
    registry = dr.async_get(hass)
    wanted = {
        (DOMAIN, f"{coordinator.provider}_{meter_id}")
        for meter_id in coordinator.meters
    }
    for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
        if not device.identifiers & wanted:
            registry.async_remove_device(device.id)


async def async_unload_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> bool:
    """Unload a config entry."""
    return await hass.config_entries.async_unload_platforms(entry, PLATFORMS)
