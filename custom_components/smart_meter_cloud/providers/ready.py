"""Kamstrup READY API Access: OAuth2 client credentials, REST and pushes."""

from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Final

from homeassistant.components.webhook import async_generate_id
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import (
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_REGION,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import probatio as vol

from ..api.endpoints import BASE_URLS
from ..const import CONF_BASE_URL, CONF_PROVIDER
from .base import (
    PASSWORD,
    SECTION_ADVANCED,
    TEXT,
    FormError,
    NoMetersError,
    PushReceiver,
    advanced,
    async_import_client,
)

if TYPE_CHECKING:
    from ..api.models import MeterClient
    from ..coordinator import SmartMeterCoordinator

ID: Final = "kamstrup_ready"
# READY pushes; polling is the safety net.
DEFAULT_INTERVAL: Final = timedelta(hours=1)
INVALID_AUTH: Final = "invalid_client"
HEALTH_KEY: Final = "ready_reachable"

CONF_TENANT_ID: Final = "tenant_id"
CONF_TOKEN_URL: Final = "token_url"
CONF_SCOPE: Final = "scope"
CONF_STATUS_WEBHOOK_ID: Final = "status_webhook_id"
# The Home Assistant Cloud addresses of both webhooks, once READY was given
# them: a subscription to them is found again after the entry is gone.
CONF_CLOUDHOOK_URLS: Final = "cloudhook_urls"
REGION_CUSTOM: Final = "custom"

ADVANCED_FIELDS: Final = (CONF_BASE_URL, CONF_TOKEN_URL, CONF_SCOPE)
SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_REGION, default="eu"): SelectSelector(
            SelectSelectorConfig(
                options=[*BASE_URLS, REGION_CUSTOM],
                translation_key=CONF_REGION,
                mode=SelectSelectorMode.DROPDOWN,
            )
        ),
        vol.Required(CONF_TENANT_ID): TEXT,
        vol.Required(CONF_CLIENT_ID): TEXT,
        vol.Required(CONF_CLIENT_SECRET): PASSWORD,
        vol.Required(CONF_API_KEY): PASSWORD,
        vol.Optional(SECTION_ADVANCED): advanced(*ADVANCED_FIELDS),
    }
)
REAUTH_SCHEMA: Final = vol.Schema(
    {
        vol.Required(CONF_CLIENT_SECRET): PASSWORD,
        vol.Required(CONF_API_KEY): PASSWORD,
    }
)
SECRETS: Final = frozenset({CONF_CLIENT_SECRET, CONF_API_KEY})
# The webhook ids above all: READY still pushes to them, and a stale
# subscription is found (and replaced) by its address.
KEPT: Final = (CONF_WEBHOOK_ID, CONF_STATUS_WEBHOOK_ID, CONF_CLOUDHOOK_URLS)
REDACT: Final = frozenset(
    {
        CONF_TENANT_ID,
        CONF_TOKEN_URL,  # holds the tenant id
        CONF_CLIENT_ID,
        CONF_CLIENT_SECRET,
        CONF_API_KEY,
        CONF_WEBHOOK_ID,
        CONF_STATUS_WEBHOOK_ID,
        CONF_CLOUDHOOK_URLS,
        # Of its subscriptions and pushes
        "subscription_id",
        "webhook_uri",
        "status_uri",
        "verification_token",
    }
)


async def async_validate(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> dict[str, Any]:
    """Get a token and the first page of meters."""
    advanced = {k: v for k, v in (user_input.get(SECTION_ADVANCED) or {}).items() if v}
    region = user_input[CONF_REGION]
    if region == REGION_CUSTOM and not advanced.get(CONF_BASE_URL):
        raise FormError(SECTION_ADVANCED, "base_url_required")
    data: dict[str, Any] = {
        CONF_PROVIDER: ID,
        CONF_REGION: region,
        **{
            key: str(user_input[key]).strip()
            for key in (
                CONF_TENANT_ID,
                CONF_CLIENT_ID,
                CONF_CLIENT_SECRET,
                CONF_API_KEY,
            )
        },
        **advanced,
    }
    await async_import_client(hass, "ready")
    from ..api.ready import ReadyClient

    client = create_client(hass, data)
    assert isinstance(client, ReadyClient)
    if not await client.first_meters():
        raise NoMetersError
    return data


def unique_id(data: Mapping[str, Any]) -> str:
    """One entry per READY tenant and client."""
    account = f"{data[CONF_TENANT_ID]}_{data[CONF_CLIENT_ID]}"
    return f"{ID}_{account.strip().lower()}"


def title(data: Mapping[str, Any]) -> str:
    """The tenant, by the start of its id."""
    return f"Kamstrup READY {data[CONF_TENANT_ID][:8]}"


def api_url(data: Mapping[str, Any]) -> str:
    """Where the region's (or the configured) API answers."""
    return str(data.get(CONF_BASE_URL) or BASE_URLS.get(data.get(CONF_REGION, ""), ""))


def create_client(hass: HomeAssistant, data: Mapping[str, Any]) -> MeterClient:
    """The client, with the stored OAuth client."""
    from ..api.ready import ReadyClient

    return ReadyClient(
        async_get_clientsession(hass),
        tenant_id=data[CONF_TENANT_ID],
        client_id=data[CONF_CLIENT_ID],
        client_secret=data[CONF_CLIENT_SECRET],
        base_url=data.get(CONF_BASE_URL) or BASE_URLS[data[CONF_REGION]],
        token_url=data.get(CONF_TOKEN_URL),
        scope=data.get(CONF_SCOPE),
    )


def push_receiver(
    hass: HomeAssistant,
    entry: ConfigEntry,
    coordinator: SmartMeterCoordinator,
    client: MeterClient,
) -> PushReceiver | None:
    """READY's webhooks, at ids kept stable: a stale subscription is found again."""
    from ..api.ready import ReadyClient
    from .ready_push import ReadyPushes

    assert isinstance(client, ReadyClient)
    if CONF_WEBHOOK_ID not in entry.data:
        hass.config_entries.async_update_entry(
            entry,
            data={
                **entry.data,
                CONF_WEBHOOK_ID: async_generate_id(),
                CONF_STATUS_WEBHOOK_ID: async_generate_id(),
            },
        )
    webhook_ids = entry.data[CONF_WEBHOOK_ID], entry.data[CONF_STATUS_WEBHOOK_ID]

    def remember_cloudhooks(urls: tuple[str, str]) -> None:
        known = entry.data.get(CONF_CLOUDHOOK_URLS, [])
        if not set(urls) <= set(known):
            hass.config_entries.async_update_entry(
                entry,
                data={**entry.data, CONF_CLOUDHOOK_URLS: sorted({*known, *urls})},
            )

    return ReadyPushes(
        hass, entry, coordinator, client, webhook_ids, remember_cloudhooks
    )


async def async_remove_entry(hass: HomeAssistant, entry: ConfigEntry) -> None:
    """Delete the removed entry's subscription and cloudhooks, loaded or not."""
    from ..api.ready import ReadyClient
    from .ready_push import async_remove_pushes

    client = create_client(hass, entry.data)
    assert isinstance(client, ReadyClient)
    webhook_ids = [
        entry.data[key]
        for key in (CONF_WEBHOOK_ID, CONF_STATUS_WEBHOOK_ID)
        if key in entry.data
    ]
    cloudhooks = set(entry.data.get(CONF_CLOUDHOOK_URLS, ()))
    await async_remove_pushes(hass, entry, client, webhook_ids, cloudhooks)
