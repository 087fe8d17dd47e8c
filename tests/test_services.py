"""The `import_history` action: what a user is told when it cannot run."""

from datetime import UTC, datetime, timedelta

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.providers.inexogy import (
    ID as PROVIDER_INEXOGY,
)
from custom_components.smart_meter_cloud.providers.ready import ID as PROVIDER_READY
from tests.simulator.inexogy import Fault
from tests.simulator.ready import Fault as ReadyFault

from .conftest import Cloud, Inexogy, import_history

END = datetime(2026, 11, 22, tzinfo=UTC)


async def import_a_day(hass: HomeAssistant, entry_id: str) -> None:
    """Ask for the day that ends at END."""
    await import_history(hass, entry_id, END - timedelta(days=1), END)


async def test_entry_of_another_integration(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    other = MockConfigEntry(domain="sun", title="Sun")
    other.add_to_hass(hass)
    with pytest.raises(ServiceValidationError) as err:
        await import_a_day(hass, other.entry_id)
    assert err.value.translation_key == "service_config_entry_wrong_domain"


async def test_entry_not_loaded(
    hass: HomeAssistant, cloud: Cloud, cloud_entry: ConfigEntry
) -> None:
    await hass.config_entries.async_unload(cloud_entry.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await import_a_day(hass, cloud_entry.entry_id)
    assert err.value.translation_key == "service_config_entry_not_loaded"


@pytest.mark.parametrize(
    ("cloud", "fault", "key", "message"),
    [
        (
            PROVIDER_INEXOGY,
            Fault.SERVER_ERROR,
            "cannot_connect",
            "The cloud could not be reached: ",
        ),
        (
            PROVIDER_INEXOGY,
            Fault.MALFORMED_JSON,
            "invalid_response",
            "The cloud sent an unexpected ",
        ),
        (
            PROVIDER_READY,
            ReadyFault.SERVER_ERROR,
            "cannot_connect",
            "The cloud could not be reached: ",
        ),
        (
            PROVIDER_READY,
            ReadyFault.NON_FINITE,
            "invalid_response",
            "The cloud sent an unexpected ",
        ),
    ],
    indirect=["cloud"],
)
async def test_cloud_fault_is_explained(
    hass: HomeAssistant,
    cloud: Cloud,
    cloud_entry: ConfigEntry,
    fault: Fault | ReadyFault,
    key: str,
    message: str,
) -> None:
    cloud.sim.fault = fault
    with pytest.raises(HomeAssistantError) as err:
        await import_a_day(hass, cloud_entry.entry_id)
    assert err.value.translation_domain == DOMAIN
    assert err.value.translation_key == key
    assert str(err.value).startswith(message)


async def test_revoked_authorization_asks_to_sign_in(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    inexogy.sim.revoke_tokens()
    with pytest.raises(HomeAssistantError) as err:
        await import_a_day(hass, inexogy_entry.entry_id)
    assert err.value.translation_key == "invalid_auth"
    assert str(err.value).startswith("The cloud no longer accepts the authorization")
    await hass.async_block_till_done()
    assert any(inexogy_entry.async_get_active_flows(hass, {SOURCE_REAUTH}))
