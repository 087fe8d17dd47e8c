"""A third cloud, for the tests only: what adding a cloud takes.

This module is the provider (beside `providers/inexogy.py` and
`providers/ready.py`), `api.py` its client package; a real one would also
add its translations and its line in `providers/__init__.py`.
"""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_TOKEN
from homeassistant.core import HomeAssistant
import probatio as vol

from custom_components.smart_meter_cloud.api.models import MeterClient
from custom_components.smart_meter_cloud.const import CONF_PROVIDER
from custom_components.smart_meter_cloud.providers.base import (
    PASSWORD,
    NoMetersError,
    no_push_receiver,
)

from .api import ExampleClient

ID: Final = "example"
DEFAULT_INTERVAL: Final = timedelta(minutes=5)
INVALID_AUTH: Final = "invalid_auth"
HEALTH_KEY: Final = "example_reachable"
SCHEMA: Final = vol.Schema({vol.Required(CONF_TOKEN): PASSWORD})
REAUTH_SCHEMA: Final = SCHEMA
SECRETS: Final = frozenset({CONF_TOKEN})
ADVANCED_FIELDS: Final[tuple[str, ...]] = ()
KEPT: Final[tuple[str, ...]] = ()
REDACT: Final = frozenset({CONF_TOKEN})
# What the tests look at: entries removed.
removed: list[str] = []


async def async_validate(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> dict[str, Any]:
    """Sign in with the token."""
    if not await ExampleClient(user_input[CONF_TOKEN]).meters():
        raise NoMetersError
    return {CONF_PROVIDER: ID, CONF_TOKEN: user_input[CONF_TOKEN]}


def unique_id(data: Mapping[str, Any]) -> str:
    """One account per token."""
    return f"{ID}_account"


def title(data: Mapping[str, Any]) -> str:
    """The account."""
    return "Example account"


def api_url(data: Mapping[str, Any]) -> str:
    """Nowhere: checking it fails without a request leaving the machine."""
    return "http://127.0.0.1:9"


def create_client(hass: HomeAssistant, data: Mapping[str, Any]) -> MeterClient:
    """The client with the stored token."""
    return ExampleClient(data[CONF_TOKEN])


push_receiver: Final = no_push_receiver


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Note the removal."""
    removed.append(entry.entry_id)
