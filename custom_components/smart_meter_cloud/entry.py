"""Set up, unload and remove a config entry, for any cloud.

Imported off the event loop when the integration or an entry is first set up
(see __init__.py), not to show the add-integration form.
"""

from datetime import timedelta
from functools import partial

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr, issue_registry as ir

from .const import (
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    DEFAULT_HISTORY_DAYS,
    DOMAIN,
    PLATFORMS,
)
from .coordinator import SmartMeterCoordinator
from .entity import ISSUE_ENTITY_LIMIT, async_check_entity_limit
from .ids import device_identifier, issue_id
from .leaks import CONF_LEAK, LeakSettings
from .names import async_load_names
from .providers import PROVIDERS
from .providers.base import PushReceiver
from .runtime import RuntimeData, SmartMeterConfigEntry
from .statistics.appliances import ApplianceStatistics, runs_store
from .statistics.importer import MeterStatistics, price_store, progress_store
from .statistics.watch import LeakWatch


async def async_setup_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> bool:
    """Set up a cloud account from a config entry."""
    provider = PROVIDERS[entry.data[CONF_PROVIDER]]
    client = provider.create_client(hass, entry.data)
    coordinator = SmartMeterCoordinator(
        hass, entry, client, provider.ID, provider.DEFAULT_INTERVAL
    )
    days = entry.options.get(CONF_HISTORY_DAYS, DEFAULT_HISTORY_DAYS)
    statistics = MeterStatistics(hass, entry, coordinator, timedelta(days=days))
    appliances = ApplianceStatistics(hass, entry, coordinator, statistics)
    # Every reading from the first poll on, pushes too, reaches the statistics.
    for listener in (statistics.async_take_readings, appliances.async_take_readings):
        entry.async_on_unload(coordinator.async_add_readings_listener(listener))
    # A range imported again (the action, more history) takes them along.
    entry.async_on_unload(statistics.async_add_range_listener(appliances.async_import))
    # Every hour written, late ones and corrections too, is judged for leaks.
    leaks = LeakWatch(
        hass, provider.ID, LeakSettings.from_options(entry.options.get(CONF_LEAK))
    )
    entry.async_on_unload(statistics.async_add_rows_listener(leaks.async_take_rows))
    pushes = provider.push_receiver(hass, entry, coordinator, client)
    runtime = RuntimeData(coordinator, statistics, leaks, appliances, pushes)
    if pushes is None:
        await _async_set_up(hass, entry, runtime)
        return True
    # Pushes are taken from the start and applied once the entry is set up.
    await pushes.async_register()
    try:
        await _async_set_up(hass, entry, runtime)
    except BaseException:
        pushes.async_unregister()
        raise
    await pushes.async_start()
    return True


async def _async_set_up(
    hass: HomeAssistant, entry: SmartMeterConfigEntry, runtime: RuntimeData
) -> None:
    await runtime.coordinator.async_config_entry_first_refresh()
    await async_load_names(hass)  # statistics and the logbook are named in text
    await runtime.statistics.async_load()
    await runtime.leaks.async_load(runtime.coordinator.meters.values())
    await runtime.appliances.async_load()
    entry.runtime_data = runtime
    await hass.config_entries.async_forward_entry_setups(entry, PLATFORMS)
    # After the platforms: statistics take their names from the sensors, and
    # what Home Assistant refused to add shows. Setup does not wait for a
    # backfill: it runs in the background.
    runtime.statistics.async_start()
    runtime.appliances.async_start()
    check_entity_limit = partial(async_check_entity_limit, hass, entry)
    check_entity_limit()
    entry.async_on_unload(runtime.coordinator.async_add_listener(check_entity_limit))


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
    """Unload a config entry; a cloud stops pushing once that has worked."""
    if not await hass.config_entries.async_unload_platforms(entry, PLATFORMS):
        return False  # still loaded: keep receiving
    ir.async_delete_issue(hass, DOMAIN, issue_id(ISSUE_ENTITY_LIMIT, entry))
    pushes: PushReceiver | None = entry.runtime_data.pushes
    if pushes is not None:
        await pushes.async_stop()
    return True


async def async_remove_entry(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> None:
    """Delete what a removed entry leaves, here and at its cloud; never raises."""
    await progress_store(hass, entry).async_remove()
    await price_store(hass, entry).async_remove()
    await runs_store(hass, entry).async_remove()
    if (provider := PROVIDERS.get(entry.data.get(CONF_PROVIDER, ""))) is not None:
        await provider.async_remove_entry(hass, entry)
