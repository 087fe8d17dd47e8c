"""System health: whether Home Assistant reaches the configured cloud."""

from typing import Any

from homeassistant.components import system_health
from homeassistant.core import HomeAssistant, callback

from .api.inexogy import DEFAULT_BASE_URL
from .const import CONF_BASE_URL, CONF_PROVIDER, DOMAIN, PROVIDER_INEXOGY


@callback
def async_register(
    hass: HomeAssistant, register: system_health.SystemHealthRegistration
) -> None:
    """Register the system health info callback."""
    register.async_register_info(system_health_info)


async def system_health_info(hass: HomeAssistant) -> dict[str, Any]:
    """Check that the inexogy API answers, at the URL an entry uses."""
    url = next(
        (
            entry.data.get(CONF_BASE_URL, DEFAULT_BASE_URL)
            for entry in hass.config_entries.async_loaded_entries(DOMAIN)
            if entry.data[CONF_PROVIDER] == PROVIDER_INEXOGY
        ),
        DEFAULT_BASE_URL,
    )
    return {"inexogy_reachable": system_health.async_check_can_reach_url(hass, url)}
