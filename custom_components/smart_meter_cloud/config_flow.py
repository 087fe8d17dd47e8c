"""Set up, re-authorize, reconfigure and tune a cloud account from the UI."""

from collections.abc import Mapping
import logging
from typing import TYPE_CHECKING, Any, override

from aiohttp import ClientSession
from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import (
    CONF_ACCESS_TOKEN,
    CONF_API_KEY,
    CONF_CLIENT_ID,
    CONF_CLIENT_SECRET,
    CONF_EMAIL,
    CONF_PASSWORD,
    CONF_REGION,
    CONF_SCAN_INTERVAL,
    CONF_WEBHOOK_ID,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.importlib import async_import_module
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import probatio as vol

from .api.endpoints import BASE_URLS, DEFAULT_BASE_URL
from .api.errors import AuthError, SmartMeterCloudError
from .api.models import Meter
from .const import (
    CONF_ACCESS_TOKEN_SECRET,
    CONF_BASE_URL,
    CONF_CLOUDHOOK_URLS,
    CONF_CONSUMER_KEY,
    CONF_CONSUMER_SECRET,
    CONF_HISTORY_DAYS,
    CONF_HISTORY_START,
    CONF_METERS,
    CONF_PROVIDER,
    CONF_SCOPE,
    CONF_STATUS_WEBHOOK_ID,
    CONF_TENANT_ID,
    CONF_TOKEN_URL,
    DEFAULT_HISTORY_DAYS,
    DEFAULT_SCAN_INTERVAL,
    DOMAIN,
    MAX_HISTORY_DAYS,
    MAX_SCAN_INTERVAL,
    MIN_HISTORY_DAYS,
    MIN_SCAN_INTERVAL,
    PROVIDER_INEXOGY,
    PROVIDER_READY,
    REGION_CUSTOM,
)

if TYPE_CHECKING:
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
_TEXT = TextSelector()


class NoMetersError(Exception):
    """The account has no meter we could show."""


# Never logged, and never sent to a form from the stored entry: only what the
# user just typed comes back to them.
_SECRETS = frozenset({CONF_PASSWORD, CONF_CLIENT_SECRET, CONF_API_KEY})
_ADVANCED_FIELDS = (CONF_BASE_URL, CONF_TOKEN_URL, CONF_SCOPE)
# Entry data the integration keeps for itself; no form asks for it.
_KEPT = (
    CONF_WEBHOOK_ID,
    CONF_STATUS_WEBHOOK_ID,
    CONF_CLOUDHOOK_URLS,
    CONF_HISTORY_START,
)


def _advanced(*fields: str) -> section:
    """Addresses for testing and the simulators, folded away."""
    return section(
        vol.Schema({vol.Optional(field): _URL for field in fields}),
        {"collapsed": True},
    )


INEXOGY_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_EMAIL): _EMAIL,
        vol.Required(CONF_PASSWORD): _PASSWORD,
        vol.Optional(SECTION_ADVANCED): _advanced(CONF_BASE_URL),
    }
)
READY_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_REGION, default="eu"): SelectSelector(
            SelectSelectorConfig(
                options=[*BASE_URLS, REGION_CUSTOM],
                translation_key=CONF_REGION,
                mode=SelectSelectorMode.DROPDOWN,
            )
        ),
        vol.Required(CONF_TENANT_ID): _TEXT,
        vol.Required(CONF_CLIENT_ID): _TEXT,
        vol.Required(CONF_CLIENT_SECRET): _PASSWORD,
        vol.Required(CONF_API_KEY): _PASSWORD,
        vol.Optional(SECTION_ADVANCED): _advanced(*_ADVANCED_FIELDS),
    }
)
READY_REAUTH_SCHEMA = vol.Schema(
    {
        vol.Required(CONF_CLIENT_SECRET): _PASSWORD,
        vol.Required(CONF_API_KEY): _PASSWORD,
    }
)


def _stored_suggestions(data: Mapping[str, Any]) -> dict[str, Any]:
    """What a form may show of the stored entry: everything but secrets."""
    values = {k: v for k, v in data.items() if k not in _SECRETS}
    # Stored entry data is flat; the form folds the addresses into a section.
    advanced = {f: values.pop(f) for f in _ADVANCED_FIELDS if f in values}
    return values | ({SECTION_ADVANCED: advanced} if advanced else {})


def _filled(
    flow: ConfigFlow | OptionsFlowWithReload,
    schema: vol.Schema,
    values: Mapping[str, Any] | None,
    errors: Mapping[str, str],
) -> vol.Schema:
    """The form again with what was typed, secrets too, filled in.

    A folded section that holds a value or an error is shown open: a user
    must see what is wrong, and what they typed into it.
    """
    values = values or {}
    filled = flow.add_suggested_values_to_schema(schema, values)
    fields: dict[Any, Any] = {}
    for key, value in filled.schema.items():
        name = str(key)
        if isinstance(value, section) and (
            name in errors or any((values.get(name) or {}).values())
        ):
            value = section(value.schema, {**value.options, "collapsed": False})
        fields[key] = value
    return vol.Schema(fields)


def _form_values(data: Mapping[str, Any]) -> dict[str, Any]:
    """Stored entry data in the shape the forms submit."""
    values = {k: v for k, v in data.items() if k not in _ADVANCED_FIELDS}
    values[SECTION_ADVANCED] = {f: data[f] for f in _ADVANCED_FIELDS if f in data}
    return values


def _kept(entry: SmartMeterConfigEntry, data: Mapping[str, Any]) -> dict[str, Any]:
    """New sign-in data, with what the integration keeps carried over.

    The webhook ids above all: READY still pushes to them, and a stale
    subscription is found (and replaced) by its address.
    """
    return {**data, **{key: entry.data[key] for key in _KEPT if key in entry.data}}


def _unique_id(data: Mapping[str, Any]) -> str:
    """One entry per inexogy account, and per READY tenant and client."""
    if data[CONF_PROVIDER] == PROVIDER_READY:
        account = f"{data[CONF_TENANT_ID]}_{data[CONF_CLIENT_ID]}"
    else:
        account = data[CONF_EMAIL]
    return f"{data[CONF_PROVIDER]}_{account.strip().lower()}"


def _title(data: Mapping[str, Any]) -> str:
    """Tell accounts apart without the e-mail: Home Assistant logs the title."""
    if data[CONF_PROVIDER] == PROVIDER_READY:
        return f"Kamstrup READY {data[CONF_TENANT_ID][:8]}"
    local, _, domain = str(data[CONF_EMAIL]).lower().partition("@")
    return f"inexogy {local[:1]}…@{domain}"


class SmartMeterCloudConfigFlow(ConfigFlow, domain=DOMAIN):
    """Adds an inexogy account or a READY tenant."""

    VERSION = 1
    MINOR_VERSION = 2

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
        return self.async_show_menu(
            step_id="user", menu_options=[PROVIDER_INEXOGY, PROVIDER_READY]
        )

    async def async_step_inexogy(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in with inexogy e-mail and password."""
        return await self._async_add(PROVIDER_INEXOGY, INEXOGY_SCHEMA, user_input)

    async def async_step_kamstrup_ready(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Add a READY tenant with its OAuth client and API key."""
        return await self._async_add(PROVIDER_READY, READY_SCHEMA, user_input)

    async def _async_add(
        self, provider: str, schema: vol.Schema, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._validate(provider, user_input)
            if data is not None:
                await self.async_set_unique_id(_unique_id(data))
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=_title(data), data=data)
        return self.async_show_form(
            step_id=provider,
            data_schema=_filled(self, schema, user_input, errors),
            errors=errors,
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """The cloud no longer accepts our credentials: ask for new ones."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """inexogy: the password again. READY: the client secret and API key."""
        entry = self._get_reauth_entry()
        provider = entry.data[CONF_PROVIDER]
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._validate(
                provider, _form_values(entry.data) | user_input
            )
            if data is not None:
                await self.async_set_unique_id(_unique_id(data))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data=_kept(entry, data)
                )
        schema = (
            READY_REAUTH_SCHEMA
            if provider == PROVIDER_READY
            else vol.Schema({vol.Required(CONF_PASSWORD): _PASSWORD})
        )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=_filled(self, schema, user_input, errors),
            description_placeholders={"account": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change credentials or addresses; the account stays the same."""
        if self._get_reconfigure_entry().data[CONF_PROVIDER] == PROVIDER_READY:
            return await self.async_step_reconfigure_kamstrup_ready(user_input)
        return await self.async_step_reconfigure_inexogy(user_input)

    async def async_step_reconfigure_inexogy(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A new inexogy password, or another API address."""
        return await self._async_reconfigure(
            PROVIDER_INEXOGY, INEXOGY_SCHEMA, user_input
        )

    async def async_step_reconfigure_kamstrup_ready(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """A new client secret or API key, another region or address."""
        return await self._async_reconfigure(PROVIDER_READY, READY_SCHEMA, user_input)

    async def _async_reconfigure(
        self, provider: str, schema: vol.Schema, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Each cloud its own form, so that its text names only its sign-in."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._validate(provider, user_input)
            if data is not None:
                await self.async_set_unique_id(_unique_id(data))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data=_kept(entry, data)
                )
        return self.async_show_form(
            step_id=f"reconfigure_{provider}",
            data_schema=_filled(
                self, schema, user_input or _stored_suggestions(entry.data), errors
            ),
            errors=errors,
        )

    async def _validate(
        self, provider: str, user_input: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """Sign in and check there is a meter; map failures to form errors."""
        session = async_get_clientsession(self.hass)
        try:
            await _async_import_client(self.hass, provider)
            if provider == PROVIDER_READY:
                data = await _validate_ready(session, user_input)
            else:
                data = await _validate_inexogy(session, user_input)
        except BaseUrlRequiredError:
            return None, {SECTION_ADVANCED: "base_url_required"}
        except AuthError:
            if provider == PROVIDER_READY:
                return None, {"base": "invalid_client"}
            return None, {"base": "invalid_auth"}
        except SmartMeterCloudError as err:
            _LOGGER.debug("Cannot reach the cloud: %s", err)
            return None, {"base": "cannot_connect"}
        except NoMetersError:
            return None, {"base": "no_meters"}
        except Exception:
            _LOGGER.exception("Unexpected error while signing in")
            return None, {"base": "unknown"}
        return data, {}


class BaseUrlRequiredError(Exception):
    """A custom region needs its API address."""


async def _async_import_client(hass: HomeAssistant, provider: str) -> None:
    """Import a cloud's client, and oauthlib with it, off the event loop.

    Only once a form is submitted: the first form, shown right after Home
    Assistant starts, needs neither.
    """
    module = "ready" if provider == PROVIDER_READY else "inexogy"
    await async_import_module(hass, f"{__package__}.api.{module}")


async def _validate_inexogy(
    session: ClientSession, user_input: Mapping[str, Any]
) -> dict[str, Any]:
    """Authorize with the password, which is then forgotten."""
    email = user_input[CONF_EMAIL].strip()
    advanced = user_input.get(SECTION_ADVANCED) or {}
    base_url = advanced.get(CONF_BASE_URL) or DEFAULT_BASE_URL
    from .api.inexogy import InexogyClient  # loaded by _async_import_client

    client = InexogyClient(session, base_url=base_url)
    credentials = await client.authorize(email, user_input[CONF_PASSWORD])
    if not any(meter.active for meter in await client.meters()):
        raise NoMetersError
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
    return data


async def _validate_ready(
    session: ClientSession, user_input: Mapping[str, Any]
) -> dict[str, Any]:
    """Get a token and the first page of meters."""
    advanced = {k: v for k, v in (user_input.get(SECTION_ADVANCED) or {}).items() if v}
    region = user_input[CONF_REGION]
    if region == REGION_CUSTOM and not advanced.get(CONF_BASE_URL):
        raise BaseUrlRequiredError
    data: dict[str, Any] = {
        CONF_PROVIDER: PROVIDER_READY,
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
    from .api.ready import ReadyClient  # loaded by _async_import_client

    client = ReadyClient(
        session,
        tenant_id=data[CONF_TENANT_ID],
        client_id=data[CONF_CLIENT_ID],
        client_secret=data[CONF_CLIENT_SECRET],
        base_url=data.get(CONF_BASE_URL) or BASE_URLS[region],
        token_url=data.get(CONF_TOKEN_URL),
        scope=data.get(CONF_SCOPE),
    )
    if not await client.first_meters():
        raise NoMetersError
    return data


class _BoundedNumber(NumberSelector):
    """A number box whose bounds the form shows and the step enforces.

    The selector's own check would refuse a value out of range before the
    step runs, with an English "Value 5.0 is too small" in any language; the
    step answers with a translated error that names the bound instead.
    """

    @override
    def __call__(self, data: Any) -> float:
        value: float = vol.Coerce(float)(data)
        return value


def _number_box(low: float, high: float, unit: str) -> _BoundedNumber:
    return _BoundedNumber(
        NumberSelectorConfig(
            min=low,
            max=high,
            step=1,
            unit_of_measurement=unit,
            mode=NumberSelectorMode.BOX,
        )
    )


_SCAN_INTERVAL_BOUNDS = (
    int(MIN_SCAN_INTERVAL.total_seconds()),
    int(MAX_SCAN_INTERVAL.total_seconds()),
)
# The bounds the errors name, whichever field is out of range.
_BOUNDS_PLACEHOLDERS = {
    "min_scan_interval": str(_SCAN_INTERVAL_BOUNDS[0]),
    "max_scan_interval": str(_SCAN_INTERVAL_BOUNDS[1]),
    "min_history_days": str(MIN_HISTORY_DAYS),
    "max_history_days": str(MAX_HISTORY_DAYS),
}


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
            errors = self._errors(user_input, bool(meters))
            if not errors:
                return self.async_create_entry(data=_options(entry, user_input))
        provider = entry.data[CONF_PROVIDER]
        fields: dict[Any, Any] = {
            vol.Required(
                CONF_SCAN_INTERVAL,
                default=int(DEFAULT_SCAN_INTERVAL[provider].total_seconds()),
            ): _number_box(*_SCAN_INTERVAL_BOUNDS, "s"),
            vol.Required(CONF_HISTORY_DAYS, default=DEFAULT_HISTORY_DAYS): _number_box(
                MIN_HISTORY_DAYS, MAX_HISTORY_DAYS, "d"
            ),
        }
        if meters:
            # Labelled as the devices are named, in Home Assistant's language;
            # the entry is loaded, so this import is a lookup.
            from .entity import async_device_names

            names = await async_device_names(self.hass, entry, meters.values())
            fields[vol.Required(CONF_METERS, default=list(meters))] = SelectSelector(
                SelectSelectorConfig(
                    options=[
                        SelectOptionDict(value=meter_id, label=names[meter_id])
                        for meter_id in meters
                    ],
                    multiple=True,
                )
            )
        return self.async_show_form(
            step_id="init",
            data_schema=_filled(
                self, vol.Schema(fields), user_input or entry.options, errors
            ),
            errors=errors,
            description_placeholders=_BOUNDS_PLACEHOLDERS,
        )

    @staticmethod
    def _errors(user_input: Mapping[str, Any], choosing: bool) -> dict[str, str]:
        """What is wrong with the options, each error naming its bound."""
        errors: dict[str, str] = {}
        interval = user_input[CONF_SCAN_INTERVAL]
        if interval < _SCAN_INTERVAL_BOUNDS[0]:
            errors[CONF_SCAN_INTERVAL] = "scan_interval_too_short"
        elif interval > _SCAN_INTERVAL_BOUNDS[1]:
            errors[CONF_SCAN_INTERVAL] = "scan_interval_too_long"
        days = user_input[CONF_HISTORY_DAYS]
        if days < MIN_HISTORY_DAYS:
            errors[CONF_HISTORY_DAYS] = "history_days_too_few"
        elif days > MAX_HISTORY_DAYS:
            errors[CONF_HISTORY_DAYS] = "history_days_too_many"
        if choosing and not user_input.get(CONF_METERS):
            errors[CONF_METERS] = "no_meters"
        return errors


def _options(
    entry: SmartMeterConfigEntry, user_input: dict[str, Any]
) -> dict[str, Any]:
    """Store a choice of meters only when it leaves some out.

    With every meter chosen there is no choice to keep: meters the account
    gains later are shown as well. Unloaded, the form offers no meters, and
    the earlier choice stays.
    """
    options = dict(user_input)
    available = _active_meters(entry)
    if not available:
        if CONF_METERS in entry.options:
            options[CONF_METERS] = entry.options[CONF_METERS]
    elif available.keys() <= set(options[CONF_METERS]):
        del options[CONF_METERS]
    return options


def _active_meters(entry: SmartMeterConfigEntry) -> dict[str, Meter]:
    """The account's active meters, known while the entry is loaded."""
    runtime = getattr(entry, "runtime_data", None)
    return {} if runtime is None else runtime.coordinator.available_meters
