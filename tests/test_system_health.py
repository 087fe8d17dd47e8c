"""System health tells whether the inexogy API answers."""

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
from pytest_homeassistant_custom_component.common import get_system_health_info

from custom_components.smart_meter_cloud.const import DOMAIN

from .conftest import Inexogy


async def test_reachable(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    assert await async_setup_component(hass, "system_health", {})
    info = await get_system_health_info(hass, DOMAIN)
    assert await info["inexogy_reachable"] == "ok"

    await inexogy.sim.stop()
    info = await get_system_health_info(hass, DOMAIN)
    assert (await info["inexogy_reachable"])["type"] == "failed"
