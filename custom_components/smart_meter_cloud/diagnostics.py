"""Diagnostics: what was configured and received, with nothing personal in it."""

import re
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .coordinator import SmartMeterConfigEntry

# Snake-case names; the camelCase spelling the clouds use is redacted as well.
_SECRET_KEYS = (
    "access_token",
    "access_token_secret",
    "consumer_key",
    "consumer_secret",
    "email",
    "password",
    "serial",
    "serial_number",
    "full_serial_number",
    "printed_full_serial_number",
    "location",
    "address",
    "street",
    "street_number",
    "zip",
    "city",
    "administration_number",
    "metering_location_number",
    "customer_number",
    "title",
    "unique_id",
    "tenant_id",
    "token_url",  # holds the tenant id
    "client_id",
    "client_secret",
    "api_key",
    "webhook_id",
    "status_webhook_id",
    "cloudhook_urls",
    "subscription_id",
    "webhook_uri",
    "status_uri",
    "verification_token",
)


def _camel(name: str) -> str:
    return re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


TO_REDACT = frozenset(_SECRET_KEYS) | {_camel(key) for key in _SECRET_KEYS}


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: SmartMeterConfigEntry
) -> dict[str, Any]:
    """Return the entry, its meters and their latest readings, redacted."""
    coordinator = entry.runtime_data.coordinator
    pushes = entry.runtime_data.pushes
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
            "pushes": None
            if pushes is None
            else {
                "subscribed": pushes.subscription_id is not None,
                "status": pushes.status,
                "last_payloads": pushes.last_payloads,
            },
        },
        TO_REDACT,
    )
