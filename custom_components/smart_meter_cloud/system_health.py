"""System health: whether Home Assistant reaches the configured clouds."""

from typing import Any

from homeassistant.components import system_health
from homeassistant.const import CONF_REGION
from homeassistant.core import HomeAssistant, callback

from .api.endpoints import BASE_URLS, DEFAULT_BASE_URL
from .const import CONF_BASE_URL, CONF_PROVIDER, DOMAIN, PROVIDER_READY

_KEYS = {PROVIDER_READY: "ready_reachable"}


@callback
def async_register(
    hass: HomeAssistant, register: system_health.SystemHealthRegistration
) -> None:
    """Register the system health info callback."""
    register.async_register_info(system_health_info)


async def system_health_info(hass: HomeAssistant) -> dict[str, Any]:
    """Check that each configured provider's API answers."""
    urls: dict[str, str] = {}
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        provider = entry.data[CONF_PROVIDER]
        default = (
            BASE_URLS.get(entry.data.get(CONF_REGION, ""), "")
            if provider == PROVIDER_READY
            else DEFAULT_BASE_URL
        )
        key = _KEYS.get(provider, "inexogy_reachable")
        urls.setdefault(key, entry.data.get(CONF_BASE_URL) or default)
    return {
        key: system_health.async_check_can_reach_url(hass, url)
        for key, url in urls.items()
    }
