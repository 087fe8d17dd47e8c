"""inexogy (formerly Discovergy): e-mail and password once, then OAuth 1.0a."""

from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Final

from homeassistant.const import CONF_ACCESS_TOKEN, CONF_EMAIL, CONF_PASSWORD
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import probatio as vol

from ..api.endpoints import DEFAULT_BASE_URL
from ..api.models import MeterClient
from ..const import CONF_BASE_URL, CONF_PROVIDER
from .base import (
    EMAIL,
    PASSWORD,
    SECTION_ADVANCED,
    NoMetersError,
    advanced,
    async_import_client,
    async_nothing_to_remove,
    no_push_receiver,
)

ID: Final = "inexogy"
DEFAULT_INTERVAL: Final = timedelta(seconds=30)

CONF_CONSUMER_KEY: Final = "consumer_key"
CONF_CONSUMER_SECRET: Final = "consumer_secret"
CONF_ACCESS_TOKEN_SECRET: Final = "access_token_secret"

SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_EMAIL): EMAIL,
        vol.Required(CONF_PASSWORD): PASSWORD,
        vol.Optional(SECTION_ADVANCED): advanced(CONF_BASE_URL),
    }
)
REAUTH_SCHEMA: Final = vol.Schema({vol.Required(CONF_PASSWORD): PASSWORD})
INVALID_AUTH: Final = "invalid_auth"
HEALTH_KEY: Final = "inexogy_reachable"
SECRETS: Final = frozenset({CONF_PASSWORD})
ADVANCED_FIELDS: Final = (CONF_BASE_URL,)
KEPT: Final[tuple[str, ...]] = ()
REDACT: Final = frozenset(
    {
        CONF_EMAIL,
        CONF_PASSWORD,
        CONF_ACCESS_TOKEN,
        CONF_ACCESS_TOKEN_SECRET,
        CONF_CONSUMER_KEY,
        CONF_CONSUMER_SECRET,
    }
)


async def async_validate(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> dict[str, Any]:
    """Authorize with the password, which is then forgotten."""
    await async_import_client(hass, "inexogy")
    from ..api.inexogy import InexogyClient

    email = user_input[CONF_EMAIL].strip()
    base_url = (user_input.get(SECTION_ADVANCED) or {}).get(
        CONF_BASE_URL
    ) or DEFAULT_BASE_URL
    client = InexogyClient(async_get_clientsession(hass), base_url=base_url)
    credentials = await client.authorize(email, user_input[CONF_PASSWORD])
    if not any(meter.active for meter in await client.meters()):
        raise NoMetersError
    data: dict[str, Any] = {
        CONF_PROVIDER: ID,
        CONF_EMAIL: email,
        CONF_CONSUMER_KEY: credentials.consumer_key,
        CONF_CONSUMER_SECRET: credentials.consumer_secret,
        CONF_ACCESS_TOKEN: credentials.access_token,
        CONF_ACCESS_TOKEN_SECRET: credentials.access_token_secret,
    }
    if base_url != DEFAULT_BASE_URL:
        data[CONF_BASE_URL] = base_url
    return data


def unique_id(data: Mapping[str, Any]) -> str:
    """One entry per inexogy account."""
    return f"{ID}_{str(data[CONF_EMAIL]).strip().lower()}"


def title(data: Mapping[str, Any]) -> str:
    """The account without its e-mail address."""
    local, _, domain = str(data[CONF_EMAIL]).lower().partition("@")
    return f"inexogy {local[:1]}…@{domain}"


def api_url(data: Mapping[str, Any]) -> str:
    """Where the API answers."""
    return str(data.get(CONF_BASE_URL) or DEFAULT_BASE_URL)


def create_client(hass: HomeAssistant, data: Mapping[str, Any]) -> MeterClient:
    """The client, signed with the stored OAuth tokens."""
    from ..api.inexogy import InexogyClient, InexogyCredentials

    return InexogyClient(
        async_get_clientsession(hass),
        base_url=data.get(CONF_BASE_URL, DEFAULT_BASE_URL),
        credentials=InexogyCredentials(
            data[CONF_CONSUMER_KEY],
            data[CONF_CONSUMER_SECRET],
            data[CONF_ACCESS_TOKEN],
            data[CONF_ACCESS_TOKEN_SECRET],
        ),
    )


# inexogy does not push, and its tokens go with the entry.
push_receiver: Final = no_push_receiver
async_remove_entry: Final = async_nothing_to_remove
