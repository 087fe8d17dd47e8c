"""Set up, re-authorize, reconfigure and tune a cloud account from the UI."""

from collections.abc import Mapping
import logging
from typing import Any, override

from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import (
    CONF_ACCESS_TOKEN,
    CONF_EMAIL,
    CONF_PASSWORD,
    CONF_SCAN_INTERVAL,
)
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from .api.errors import AuthError, SmartMeterCloudError
from .api.inexogy import DEFAULT_BASE_URL, InexogyClient
from .api.models import Meter
from .const import (
    CONF_ACCESS_TOKEN_SECRET,
    CONF_BASE_URL,
    CONF_CONSUMER_KEY,
    CONF_CONSUMER_SECRET,
    CONF_METERS,
    CONF_PROVIDER,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    MAX_SCAN_INTERVAL,
    MIN_SCAN_INTERVAL,
    PROVIDER_INEXOGY,
)
from .coordinator import SmartMeterConfigEntry

_LOGGER = logging.getLogger(__name__)

SECTION_ADVANCED = "advanced"

_EMAIL = TextSelector(
    TextSelectorConfig(type=TextSelectorType.EMAIL, autocomplete="username")
)
_PASSWORD = TextSelector(
    TextSelectorConfig(type=TextSelectorType.PASSWORD, autocomplete="current-password")
)
_URL = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))


class NoMetersError(Exception):
    """The account has no meter we could show."""


def _suggested(values: Mapping[str, Any] | None) -> dict[str, Any]:
    """What a form may show again: never the password."""
    values = values or {}
    suggested = {k: v for k, v in values.items() if k == CONF_EMAIL}
    if CONF_BASE_URL in values:  # stored entry data is flat
        suggested[SECTION_ADVANCED] = {CONF_BASE_URL: values[CONF_BASE_URL]}
    elif SECTION_ADVANCED in values:
        suggested[SECTION_ADVANCED] = values[SECTION_ADVANCED]
    return suggested


def _unique_id(email: str) -> str:
    return f"{PROVIDER_INEXOGY}_{email.strip().lower()}"


class SmartMeterCloudConfigFlow(ConfigFlow, domain=DOMAIN):
    """Adds an inexogy account."""

    VERSION = 1

    @staticmethod
    @callback
    @override
    def async_get_options_flow(
        config_entry: SmartMeterConfigEntry,
    ) -> OptionsFlowHandler:
        """Options: polling interval and which meters."""
        return OptionsFlowHandler()

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Let the user pick the provider."""
        return self.async_show_menu(step_id="user", menu_options=[PROVIDER_INEXOGY])

    async def async_step_inexogy(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in with inexogy e-mail and password."""
        errors: dict[str, str] = {}
        if user_input is not None:
            await self.async_set_unique_id(_unique_id(user_input[CONF_EMAIL]))
            self._abort_if_unique_id_configured()
            data, errors = await self._authorize(user_input)
            if data is not None:
                return self.async_create_entry(title=data[CONF_EMAIL], data=data)
        return self.async_show_form(
            step_id="inexogy",
            data_schema=self.add_suggested_values_to_schema(
                self._inexogy_schema(), _suggested(user_input)
            ),
            errors=errors,
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The token was revoked: ask for the password again."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Authorize again with the stored e-mail and a fresh password."""
        entry = self._get_reauth_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._authorize(
                {
                    CONF_EMAIL: entry.data[CONF_EMAIL],
                    CONF_PASSWORD: user_input[CONF_PASSWORD],
                    SECTION_ADVANCED: {
                        CONF_BASE_URL: entry.data.get(CONF_BASE_URL, DEFAULT_BASE_URL)
                    },
                }
            )
            if data is not None:
                await self.async_set_unique_id(_unique_id(data[CONF_EMAIL]))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=vol.Schema({vol.Required(CONF_PASSWORD): _PASSWORD}),
            description_placeholders={"email": entry.data[CONF_EMAIL]},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in again, possibly against another server, same account."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._authorize(user_input)
            if data is not None:
                await self.async_set_unique_id(_unique_id(data[CONF_EMAIL]))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(entry, data=data)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                self._inexogy_schema(), _suggested(user_input or entry.data)
            ),
            errors=errors,
        )

    def _inexogy_schema(self) -> vol.Schema:
        return vol.Schema(
            {
                vol.Required(CONF_EMAIL): _EMAIL,
                vol.Required(CONF_PASSWORD): _PASSWORD,
                # Another API address is for testing and the simulator only.
                vol.Optional(SECTION_ADVANCED): section(
                    vol.Schema({vol.Optional(CONF_BASE_URL): _URL}),
                    {"collapsed": True},
                ),
            }
        )

    async def _authorize(
        self, user_input: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """Authorize and check there is a meter; the password is not kept."""
        email = user_input[CONF_EMAIL].strip()
        advanced = user_input.get(SECTION_ADVANCED) or {}
        base_url = advanced.get(CONF_BASE_URL) or DEFAULT_BASE_URL
        client = InexogyClient(async_get_clientsession(self.hass), base_url=base_url)
        try:
            credentials = await client.authorize(email, user_input[CONF_PASSWORD])
            if not any(meter.active for meter in await client.meters()):
                raise NoMetersError
        except AuthError:
            return None, {"base": "invalid_auth"}
        except SmartMeterCloudError as err:
            _LOGGER.debug("Cannot reach inexogy: %s", err)
            return None, {"base": "cannot_connect"}
        except NoMetersError:
            return None, {"base": "no_meters"}
        except Exception:
            _LOGGER.exception("Unexpected error while signing in to inexogy")
            return None, {"base": "unknown"}
        data: dict[str, Any] = {
            CONF_PROVIDER: PROVIDER_INEXOGY,
            CONF_EMAIL: email,
            CONF_CONSUMER_KEY: credentials.consumer_key,
            CONF_CONSUMER_SECRET: credentials.consumer_secret,
            CONF_ACCESS_TOKEN: credentials.access_token,
            CONF_ACCESS_TOKEN_SECRET: credentials.access_token_secret,
        }
        if base_url != DEFAULT_BASE_URL:
            data[CONF_BASE_URL] = base_url
        return data, {}


class OptionsFlowHandler(OptionsFlowWithReload):
    """Polling interval and the meters to include."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show the options; a change reloads the entry."""
        entry: SmartMeterConfigEntry = self.config_entry
        errors: dict[str, str] = {}
        meters = _active_meters(entry)
        if user_input is not None:
            if meters and not user_input.get(CONF_METERS):
                errors[CONF_METERS] = "no_meters"
            else:
                return self.async_create_entry(data=user_input)
        provider = entry.data[CONF_PROVIDER]
        fields: dict[Any, Any] = {
            vol.Required(
                CONF_SCAN_INTERVAL,
                default=int(DEFAULT_SCAN_INTERVAL[provider].total_seconds()),
            ): NumberSelector(
                NumberSelectorConfig(
                    min=MIN_SCAN_INTERVAL.total_seconds(),
                    max=MAX_SCAN_INTERVAL.total_seconds(),
                    step=1,
                    unit_of_measurement="s",
                    mode=NumberSelectorMode.BOX,
                )
            )
        }
        if meters:
            fields[vol.Required(CONF_METERS, default=list(meters))] = SelectSelector(
                SelectSelectorConfig(
                    options=[
                        SelectOptionDict(value=m.id, label=_label(m))
                        for m in meters.values()
                    ],
                    multiple=True,
                )
            )
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(
                vol.Schema(fields), user_input or dict(entry.options)
            ),
            errors=errors,
        )


def _active_meters(entry: SmartMeterConfigEntry) -> dict[str, Meter]:
    """The account's active meters, known while the entry is loaded."""
    coordinator = getattr(entry, "runtime_data", None)
    return {} if coordinator is None else coordinator.available_meters


def _label(meter: Meter) -> str:
    return f"{meter.medium.capitalize()} {meter.model} {meter.serial}".strip()
