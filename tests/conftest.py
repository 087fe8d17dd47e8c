"""Fixtures: Home Assistant with this integration, and the simulated clouds."""

from collections.abc import AsyncIterator, Generator
from dataclasses import dataclass
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers.entity import Entity
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from syrupy.assertion import SnapshotAssertion

# Imported before the `hass` fixture so that the test plugin's own
# `custom_components` package does not shadow ours.
import custom_components.smart_meter_cloud  # noqa: F401
from custom_components.smart_meter_cloud.const import DOMAIN
from tests.simulator.inexogy import DEMO_EMAIL, DEMO_PASSWORD, InexogySimulator


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load this repository's integration."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots that understand states, registry entries and flows."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create entities that are disabled by default as enabled."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            Entity, "entity_registry_enabled_default", property(lambda _: True)
        )
        yield


@dataclass
class Inexogy:
    """A running inexogy simulator and its address."""

    sim: InexogySimulator
    url: str


@pytest.fixture
async def inexogy(
    socket_enabled: None, freezer: FrozenDateTimeFactory
) -> AsyncIterator[Inexogy]:
    """Serve the inexogy simulator on loopback, on a clock the test moves."""
    sim = InexogySimulator()
    url = await sim.start()
    yield Inexogy(sim, url)
    await sim.stop()


async def start_inexogy_flow(hass: HomeAssistant) -> str:
    """Open the add-integration flow, pick inexogy, return the flow id."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_USER},
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "inexogy"}
    )
    assert result["type"] is FlowResultType.FORM
    return result["flow_id"]


async def add_inexogy_entry(
    hass: HomeAssistant, url: str, **user_input: Any
) -> MockConfigEntry:
    """Add the demo account through the config flow and wait for setup."""
    flow_id = await start_inexogy_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "advanced": {"base_url": url}}
        | user_input,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done()
    entry = result["result"]
    assert isinstance(entry, config_entries.ConfigEntry)
    return entry  # type: ignore[return-value]


@pytest.fixture
async def inexogy_entry(
    hass: HomeAssistant, inexogy: Inexogy
) -> config_entries.ConfigEntry:
    """The demo inexogy account, set up."""
    return await add_inexogy_entry(hass, inexogy.url)
