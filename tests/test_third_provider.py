"""A third cloud is a provider module and its client: nothing else changes.

`tests/example_cloud` is such a cloud. Registered, it is offered, signed in
to, polled, imported into statistics, checked by system health, redacted in
diagnostics, reconfigured and removed by the same code as the real two.
"""

from types import ModuleType

from homeassistant.config_entries import SOURCE_RECONFIGURE, SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import get_system_health_info

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.smart_meter_cloud.providers import PROVIDERS
from tests import example_cloud
from tests.example_cloud.api import TOKEN, total_at

from .conftest import assert_hourly, statistic_rows


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch, socket_enabled: None) -> ModuleType:
    """The example cloud, in the registry: its one line.

    Sockets on: system health looks for its API on loopback.
    """
    monkeypatch.setitem(PROVIDERS, example_cloud.ID, example_cloud)
    example_cloud.removed.clear()
    return example_cloud


async def test_a_third_cloud_needs_only_its_provider_module(
    hass: HomeAssistant, example: ModuleType, history_days: int
) -> None:
    flow = hass.config_entries.flow
    result = await flow.async_init(DOMAIN, context={"source": SOURCE_USER})
    assert result["menu_options"] == ["inexogy", "kamstrup_ready", "example"]
    result = await flow.async_configure(result["flow_id"], {"next_step_id": "example"})
    assert result["step_id"] == "example"
    result = await flow.async_configure(result["flow_id"], {"token": "wrong"})
    assert result["errors"] == {"base": "invalid_auth"}
    result = await flow.async_configure(result["flow_id"], {"token": TOKEN})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.title == "Example account"
    await hass.async_block_till_done(wait_background_tasks=True)

    entity_id = er.async_get(hass).async_get_entity_id(
        "sensor", DOMAIN, "example_meter-1_energy_import"
    )
    assert entity_id is not None
    state = hass.states.get(entity_id)
    assert state is not None
    assert float(state.state) == pytest.approx(total_at(dt_util.utcnow()), abs=1)
    rows = await statistic_rows(hass, f"{DOMAIN}:example_meter_1_energy_import")
    assert len(rows) >= history_days * 24
    assert_hourly(rows)
    assert rows[-1]["sum"] - rows[0]["sum"] == pytest.approx(len(rows) - 1)

    assert await async_setup_component(hass, "system_health", {})
    info = await get_system_health_info(hass, DOMAIN)
    assert (await info["example_reachable"])["type"] == "failed"
    found = await async_get_config_entry_diagnostics(hass, entry)
    assert found["entry"]["data"]["token"] == "**REDACTED**"

    result = await flow.async_init(
        DOMAIN, context={"source": SOURCE_RECONFIGURE, "entry_id": entry.entry_id}
    )
    assert result["step_id"] == "reconfigure_example"
    result = await flow.async_configure(result["flow_id"], {"token": TOKEN})
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done(wait_background_tasks=True)

    assert await hass.config_entries.async_remove(entry.entry_id)
    assert example.removed == [entry.entry_id]


def test_unknown_steps_are_not_taken() -> None:
    """Only a registered cloud has steps named after it."""
    from custom_components.smart_meter_cloud.config_flow import (
        SmartMeterCloudConfigFlow,
    )

    flow = SmartMeterCloudConfigFlow()
    assert not hasattr(flow, "async_step_example")
    assert not hasattr(flow, "async_step_reconfigure_nowhere")
    assert hasattr(flow, "async_step_reconfigure_inexogy")
