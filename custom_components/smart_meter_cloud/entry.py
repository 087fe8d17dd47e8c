"""Set up, unload and remove a config entry.

Imported off the event loop when the integration or an entry is first set up
(see __init__.py), not to show the add-integration form.
"""

from datetime import timedelta
from functools import partial

from homeassistant.components.webhook import async_generate_id
from homeassistant.const import (
    CONF_ACCESS_TOKEN,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_REGION,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from . import PLATFORMS
from .api.endpoints import BASE_URLS, DEFAULT_BASE_URL
from .api.inexogy import InexogyClient, InexogyCredentials
from .api.models import MeterClient
from .api.ready import ReadyClient
from .const import (
    CONF_ACCESS_TOKEN_SECRET,
    CONF_BASE_URL,
    CONF_CONSUMER_KEY,
    CONF_CONSUMER_SECRET,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    CONF_SCOPE,
    CONF_STATUS_WEBHOOK_ID,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    DEFAULT_HISTORY_DAYS,
    DOMAIN,
    PROVIDER_READY,
)
from .coordinator import (
    RuntimeData,
    SmartMeterConfigEntry,
    SmartMeterCoordinator,
    device_identifier,
)
from .entity import async_check_entity_limit, entity_limit_issue_id
from .statistics import MeterStatistics, async_mend_negative_sums
from .webhook import ReadyPushes, async_remove_pushes


async def async_migrate_entry(
    hass: HomeAssistant, entry: SmartMeterConfigEntry
) -> bool:
    """Bring an entry of an earlier version up to date, once."""
    if entry.version > 1:
        return False  # from a newer version: nothing to go back with
    if entry.minor_version < 2:
        # 1.1 could store extended history below zero.
        await async_mend_negative_sums(hass, entry.data[CONF_PROVIDER])
        hass.config_entries.async_update_entry(entry, minor_version=2)
    return True


def create_client(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> MeterClient:
    """Build the provider's client from the entry's stored credentials."""
    data = entry.data
    session = async_get_clientsession(hass)
    if data[CONF_PROVIDER] == PROVIDER_READY:
        return ReadyClient(
            session,
            tenant_id=data[CONF_TENANT_ID],
            client_id=data[CONF_CLIENT_ID],
            client_secret=data[CONF_CLIENT_SECRET],
            base_url=data.get(CONF_BASE_URL) or BASE_URLS[data[CONF_REGION]],
            token_url=data.get(CONF_TOKEN_URL),
            scope=data.get(CONF_SCOPE),
        )
    return InexogyClient(
        session,
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
    client = create_client(hass, entry)
    coordinator = SmartMeterCoordinator(hass, entry, client, entry.data[CONF_PROVIDER])
    pushes = (
        ReadyPushes(hass, entry, coordinator, client, _webhook_ids(hass, entry))
        if isinstance(client, ReadyClient)
        else None
    )
    if pushes is None:
        await _async_set_up(hass, entry, coordinator, None)
        return True
    # Pushes are taken from the start and applied once the entry is set up.
    await pushes.async_register()
    try:
        await _async_set_up(hass, entry, coordinator, pushes)
    except BaseException:
        pushes.async_unregister()
        raise
    await pushes.async_start()
    return True


async def _async_set_up(
    hass: HomeAssistant,
    entry: SmartMeterConfigEntry,
    coordinator: SmartMeterCoordinator,
    pushes: ReadyPushes | None,
) -> None:
    await coordinator.async_config_entry_first_refresh()
    days = entry.options.get(CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS)
    statistics = MeterStatistics(hass, coordinator, timedelta(days=days))
    entry.runtime_data = RuntimeData(coordinator, statistics, pushes)
    # Statistics follow every update, in the background: setup does not wait
    # for a backfill.
    entry.async_on_unload(coordinator.async_add_listener(statistics.async_schedule))
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # After the platforms: statistics take their names from the sensors, and
    # what Home Assistant refused to add shows.
    statistics.async_schedule()
    check_entity_limit = partial(async_check_entity_limit, hass, entry)
    check_entity_limit()
    entry.async_on_unload(coordinator.async_add_listener(check_entity_limit))


def _webhook_ids(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> tuple[str, str]:
    """Keep the webhook ids stable, so a stale subscription can be found again."""
    if CONF_WEBHOOK_ID not in entry.data:
        hass.config_entries.async_update_entry(
            entry,
            data={
                **entry.data,
                CONF_WEBHOOK_ID: async_generate_id(),
                CONF_STATUS_WEBHOOK_ID: async_generate_id(),
            },
        )
    return entry.data[CONF_WEBHOOK_ID], entry.data[CONF_STATUS_WEBHOOK_ID]


async def async_remove_config_entry_device(
    hass: HomeAssistant, entry: SmartMeterConfigEntry, device: dr.DeviceEntry
) -> bool:
    """Let a user delete a meter's device, unless the meter is still polled.

    Devices of meters that left the account go by themselves; this is for
    one the integration could not tell is gone.
    """
    runtime = getattr(entry, "runtime_data", None)
    if runtime is None:
        # Not loaded: setup brings the device back if the meter is polled.
        return True
    coordinator = runtime.coordinator
    return not any(
        device_identifier(coordinator.provider, meter_id) in device.identifiers
        for meter_id in coordinator.meters
    )


async def async_unload_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> bool:
    """Unload a config entry; READY stops pushing once that has worked."""
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False  # still loaded: keep receiving
    ir.async_delete_issue(hass, DOMAIN, entity_limit_issue_id(entry))
    if (pushes := entry.runtime_data.pushes) is not None:
        await pushes.async_stop()
    return True


async def async_remove_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> None:
    """Stop READY pushing to a removed entry, loaded or not; never raises."""
    if entry.data.get(CONF_PROVIDER) != PROVIDER_READY:
        return
    client = create_client(hass, entry)
    assert isinstance(client, ReadyClient)
    await async_remove_pushes(hass, entry, client)
