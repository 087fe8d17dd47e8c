"""Diagnostics: what was configured and received, with nothing personal in it."""

import re
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .providers import PROVIDERS
from .runtime import SmartMeterConfigEntry

# Each cloud names its own secrets and personal fields (its REDACT); these
# are personal in any meter record, or Home Assistant's own.
_PERSONAL_KEYS = frozenset(
    {
        "serial",
        "serial_number",
        "full_serial_number",
        "printed_full_serial_number",
        "administration_number",
        "customer_number",
        "metering_location_number",
        "location",
        "address",
        "street",
        "street_number",
        "zip",
        "city",
        "title",
        "unique_id",
    }
)


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def to_redact() -> frozenset[str]:
    """Every cloud's keys and the personal ones, also as the clouds spell them.

    Snake-case names; the camelCase spelling the clouds use is redacted as
    well.
    """
    keys = _PERSONAL_KEYS.union(*(p.REDACT for p in PROVIDERS.values()))
    return keys | {_camel(key) for key in keys}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SmartMeterConfigEntry
) -> dict[str, Any]:
    """Return the entry, its meters and their latest readings, redacted."""
    coordinator = entry.runtime_data.coordinator
    pushes = entry.runtime_data.pushes
    history_start = entry.runtime_data.statistics.history_start
    data = coordinator.data
    return async_redact_data(
        {
            "entry": entry.as_dict(),
            "last_update_success": coordinator.last_update_success,
            "update_interval": str(coordinator.update_interval),
            "meters": [
                {
                    "id": meter.id,
                    "medium": meter.medium,
                    "manufacturer": meter.manufacturer,
                    "model": meter.model,
                    "active": meter.active,
                    "polled": meter.id in coordinator.meters,
                    "raw": dict(meter.raw),
                }
                for meter in coordinator.available_meters.values()
            ],
            "readings": {
                meter_id: {
                    "time": reading.time.isoformat(),
                    "values": {str(q): v for q, v in reading.values.items()},
                }
                for meter_id, reading in data.readings.items()
            },
            "failures": dict(data.failures),
            "history_start": history_start and history_start.isoformat(),
            "pushes": None if pushes is None else pushes.diagnostics(),
            "appliances": entry.runtime_data.appliances.diagnostics(),
        },
        to_redact(),
    )
