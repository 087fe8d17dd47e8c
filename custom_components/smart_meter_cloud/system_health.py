"""System health: whether Home Assistant reaches the configured clouds."""

from typing import Any

from homeassistant.components import system_health
from homeassistant.core import HomeAssistant, callback

from .const import CONF_PROVIDER, DOMAIN
from .providers import PROVIDERS


@callback
def async_register(
    hass: HomeAssistant, register: system_health.SystemHealthRegistration
) -> None:
    """Register the system health info callback."""
    register.async_register_info(system_health_info)


async def system_health_info(hass: HomeAssistant) -> dict[str, Any]:
    """Check that each configured cloud's API answers."""
    urls: dict[str, str] = {}
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        provider = PROVIDERS[entry.data[CONF_PROVIDER]]
        urls.setdefault(provider.HEALTH_KEY, provider.api_url(entry.data))
    return {
        key: system_health.async_check_can_reach_url(hass, url)
        for key, url in urls.items()
    }
