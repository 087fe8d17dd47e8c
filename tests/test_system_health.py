"""System health tells whether each configured cloud's API answers."""

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import get_system_health_info

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.providers.inexogy import (
    ID as PROVIDER_INEXOGY,
)
from custom_components.smart_meter_cloud.providers.ready import ID as PROVIDER_READY

from .conftest import Cloud

KEYS = {PROVIDER_INEXOGY: "inexogy_reachable", PROVIDER_READY: "ready_reachable"}


async def test_reachable(
    hass: HomeAssistant, cloud: Cloud, cloud_entry: ConfigEntry
) -> None:
    key = KEYS[cloud.provider]
    assert await async_setup_component(hass, "system_health", {})
    info = await get_system_health_info(hass, DOMAIN)
    assert await info[key] == "ok"

    await cloud.sim.stop()
    info = await get_system_health_info(hass, DOMAIN)
    assert (await info[key])["type"] == "failed"
