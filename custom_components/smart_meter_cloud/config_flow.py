"""Set up, re-authorize, reconfigure and tune a cloud account from the UI."""

from collections.abc import Callable, Coroutine, Mapping
from functools import partial
import logging
import math
from typing import TYPE_CHECKING, Any, Literal, override

from homeassistant.config_entries import (
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlowWithReload,
)
from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT, CONF_SCAN_INTERVAL
from homeassistant.core import callback
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    TimeSelector,
)
import probatio as vol

from .api.errors import AuthError, SmartMeterCloudError
from .api.models import Medium, Meter
from .const import (
    CONF_HISTORY_DAYS,
    CONF_METERS,
    CONF_PRICES,
    CONF_PROVIDER,
    DEFAULT_HISTORY_DAYS,
    DOMAIN,
    MAX_HISTORY_DAYS,
    MAX_SCAN_INTERVAL,
    MIN_HISTORY_DAYS,
    MIN_SCAN_INTERVAL,
    PRICE_ENTITY_SUFFIX,
)
from .leaks import (
    CONF_HOURS,
    CONF_LEAK,
    CONF_NIGHT_END,
    CONF_NIGHT_START,
    CONF_NIGHTS,
    CONF_THRESHOLD,
    MAX_HOURS,
    MAX_NIGHTS,
    MAX_THRESHOLD,
    MIN_HOURS,
    MIN_NIGHTS,
    LeakSettings,
)
from .names import async_load_names, meter_device_name
from .providers import PROVIDERS
from .providers.base import SECTION_ADVANCED, FormError, NoMetersError, Provider
from .quantities import price_unit_fits, tariff_unit, tariffs_of

if TYPE_CHECKING:
    from .runtime import SmartMeterConfigEntry

_LOGGER = logging.getLogger(__name__)

type Step = Callable[[dict[str, Any] | None], Coroutine[Any, Any, ConfigFlowResult]]
RECONFIGURE_PREFIX = "reconfigure_"


def _provider(entry: SmartMeterConfigEntry) -> Provider:
    return PROVIDERS[entry.data[CONF_PROVIDER]]


def _stored_suggestions(provider: Provider, data: Mapping[str, Any]) -> dict[str, Any]:
    """What a form may show of the stored entry: everything but secrets."""
    values = {k: v for k, v in data.items() if k not in provider.SECRETS}
    # Stored entry data is flat; the form folds the addresses into a section.
    advanced = {f: values.pop(f) for f in provider.ADVANCED_FIELDS if f in values}
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


def _form_values(provider: Provider, data: Mapping[str, Any]) -> dict[str, Any]:
    """Stored entry data in the shape the forms submit."""
    fields = provider.ADVANCED_FIELDS
    values = {k: v for k, v in data.items() if k not in fields}
    values[SECTION_ADVANCED] = {f: data[f] for f in fields if f in data}
    return values


def _kept(entry: SmartMeterConfigEntry, data: Mapping[str, Any]) -> dict[str, Any]:
    """New sign-in data, with what the integration keeps carried over."""
    kept = _provider(entry).KEPT
    return {**data, **{key: entry.data[key] for key in kept if key in entry.data}}


class SmartMeterCloudConfigFlow(ConfigFlow, domain=DOMAIN):
    """Adds an account of any of the clouds in the registry."""

    # As migrations.VERSION and MINOR_VERSION, which this must not import.
    VERSION = 1
    MINOR_VERSION = 3

    @staticmethod
    @callback
    @override
    def async_get_options_flow(
        config_entry: SmartMeterConfigEntry,
    ) -> OptionsFlowHandler:
        """Options: polling interval and which meters."""
        return OptionsFlowHandler()

    def __getattr__(self, name: str) -> Step:
        """Each cloud's steps: `async_step_<id>`, `async_step_reconfigure_<id>`.

        Named after the cloud, so that each form has its own texts.
        """
        step = name.removeprefix("async_step_")
        if step != name:
            if (provider := PROVIDERS.get(step)) is not None:
                return partial(self._async_add, provider)
            if (provider := PROVIDERS.get(step.removeprefix(RECONFIGURE_PREFIX))) and (
                step.startswith(RECONFIGURE_PREFIX)
            ):
                return partial(self._async_reconfigure, provider)
        raise AttributeError(name)

    @override
    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Let the user pick the cloud."""
        return self.async_show_menu(step_id="user", menu_options=list(PROVIDERS))

    async def _async_add(
        self, provider: Provider, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Sign in to a cloud: one entry per account."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._validate(provider, user_input)
            if data is not None:
                await self.async_set_unique_id(provider.unique_id(data))
                self._abort_if_unique_id_configured()
                return self.async_create_entry(title=provider.title(data), data=data)
        return self.async_show_form(
            step_id=provider.ID,
            data_schema=_filled(self, provider.SCHEMA, user_input, errors),
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
        """Ask for what the cloud's sign-in needs again (its REAUTH_SCHEMA)."""
        entry = self._get_reauth_entry()
        provider = _provider(entry)
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._validate(
                provider, _form_values(provider, entry.data) | user_input
            )
            if data is not None:
                await self.async_set_unique_id(provider.unique_id(data))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data=_kept(entry, data)
                )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=_filled(self, provider.REAUTH_SCHEMA, user_input, errors),
            description_placeholders={"account": entry.title},
            errors=errors,
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change credentials or addresses; the account stays the same."""
        provider = _provider(self._get_reconfigure_entry())
        return await self._async_reconfigure(provider, user_input)

    async def _async_reconfigure(
        self, provider: Provider, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Each cloud its own form, so that its text names only its sign-in."""
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None:
            data, errors = await self._validate(provider, user_input)
            if data is not None:
                await self.async_set_unique_id(provider.unique_id(data))
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry, data=_kept(entry, data)
                )
        suggested = user_input or _stored_suggestions(provider, entry.data)
        return self.async_show_form(
            step_id=f"{RECONFIGURE_PREFIX}{provider.ID}",
            data_schema=_filled(self, provider.SCHEMA, suggested, errors),
            errors=errors,
        )

    async def _validate(
        self, provider: Provider, user_input: Mapping[str, Any]
    ) -> tuple[dict[str, Any] | None, dict[str, str]]:
        """Sign in and check there is a meter; map failures to form errors."""
        try:
            data = await provider.async_validate(self.hass, user_input)
        except FormError as err:
            return None, {err.field: err.key}
        except AuthError:
            return None, {"base": provider.INVALID_AUTH}
        except SmartMeterCloudError as err:
            _LOGGER.debug("Cannot reach the cloud: %s", err)
            return None, {"base": "cannot_connect"}
        except NoMetersError:
            return None, {"base": "no_meters"}
        except Exception:
            _LOGGER.exception("Unexpected error while signing in")
            return None, {"base": "unknown"}
        return data, {}


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


def _number_box(
    low: float,
    high: float | None,
    unit: str | None,
    step: float | Literal["any"] = 1,
) -> _BoundedNumber:
    config = NumberSelectorConfig(min=low, step=step, mode=NumberSelectorMode.BOX)
    if high is not None:
        config["max"] = high
    if unit is not None:
        config["unit_of_measurement"] = unit
    return _BoundedNumber(config)


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
    "min_leak_hours": str(MIN_HOURS),
    "max_leak_hours": str(MAX_HOURS),
    "min_leak_nights": str(MIN_NIGHTS),
    "max_leak_nights": str(MAX_NIGHTS),
    "max_leak_threshold": f"{MAX_THRESHOLD:g}",
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
            errors |= self._price_errors(user_input.get(CONF_PRICES) or {})
            errors |= self._leak_errors(user_input.get(CONF_LEAK) or {})
            if not errors:
                return self.async_create_entry(data=_options(entry, user_input))
        interval = _provider(entry).DEFAULT_INTERVAL
        fields: dict[Any, Any] = {
            vol.Required(
                CONF_SCAN_INTERVAL, default=int(interval.total_seconds())
            ): _number_box(*_SCAN_INTERVAL_BOUNDS, "s"),
            vol.Required(CONF_HISTORY_DAYS, default=DEFAULT_HISTORY_DAYS): _number_box(
                MIN_HISTORY_DAYS, MAX_HISTORY_DAYS, "d"
            ),
        }
        if meters:
            # Labelled as the devices are named, in Home Assistant's language.
            await async_load_names(self.hass)
            names = {
                meter_id: meter_device_name(
                    self.hass, entry.data[CONF_PROVIDER], entry.entry_id, meter
                )
                for meter_id, meter in meters.items()
            }
            fields[vol.Required(CONF_METERS, default=list(meters))] = SelectSelector(
                SelectSelectorConfig(
                    options=[
                        SelectOptionDict(value=meter_id, label=names[meter_id])
                        for meter_id in meters
                    ],
                    multiple=True,
                )
            )
            tariffs = tariffs_of(meter.medium for meter in meters.values())
            fields[vol.Optional(CONF_PRICES)] = _prices_section(
                tariffs, self.hass.config.currency
            )
            if any(meter.medium is Medium.WATER for meter in meters.values()):
                fields[vol.Optional(CONF_LEAK)] = _leak_section()
        return self.async_show_form(
            step_id="init",
            data_schema=_filled(
                self, vol.Schema(fields), user_input or entry.options, errors
            ),
            errors=errors,
            description_placeholders=_BOUNDS_PLACEHOLDERS,
        )

    def _price_errors(self, prices: Mapping[str, Any]) -> dict[str, str]:
        """One price per tariff, none below zero; a price entity's unit fits."""
        for key, value in prices.items():
            tariff = key.removesuffix(PRICE_ENTITY_SUFFIX)
            if key == tariff:
                if not 0 <= value < math.inf:
                    return {CONF_PRICES: "price_negative"}
                continue
            if not value:
                continue
            if prices.get(tariff) is not None:
                return {CONF_PRICES: "price_twice"}
            state = self.hass.states.get(value)
            unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT) if state else None
            if not price_unit_fits(unit, tariff_unit(tariff)):
                return {CONF_PRICES: "price_unit"}
        return {}

    @staticmethod
    def _leak_errors(leak: Mapping[str, Any]) -> dict[str, str]:
        """The leak rules' bounds, and a night window that is one."""
        errors: dict[str, str] = {}
        settings = LeakSettings.from_options(leak)
        if not MIN_HOURS <= leak.get(CONF_HOURS, MIN_HOURS) <= MAX_HOURS:
            errors[CONF_LEAK] = "leak_hours"
        elif settings.night_start == settings.night_end:
            errors[CONF_LEAK] = "leak_night"
        elif not 0 <= leak.get(CONF_THRESHOLD, 0) <= MAX_THRESHOLD:
            errors[CONF_LEAK] = "leak_threshold"
        elif not MIN_NIGHTS <= leak.get(CONF_NIGHTS, MIN_NIGHTS) <= MAX_NIGHTS:
            errors[CONF_LEAK] = "leak_nights"
        return errors

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


def _prices_section(tariffs: list[str], currency: str) -> section:
    """Per tariff of the account, a fixed price or a price entity; folded away."""
    fields: dict[Any, Any] = {}
    for tariff in tariffs:
        fields[vol.Optional(tariff)] = _number_box(
            0, None, f"{currency}/{tariff_unit(tariff)}", "any"
        )
        fields[vol.Optional(f"{tariff}{PRICE_ENTITY_SUFFIX}")] = EntitySelector(
            EntitySelectorConfig(domain="sensor")
        )
    return section(vol.Schema(fields), {"collapsed": True})


def _leak_section() -> section:
    """The leak rules' thresholds, defaults shown; folded away."""
    defaults = LeakSettings()
    fields: dict[Any, Any] = {
        vol.Required(CONF_HOURS, default=defaults.hours): _number_box(
            MIN_HOURS, MAX_HOURS, "h"
        ),
        vol.Required(
            CONF_NIGHT_START, default=defaults.night_start.isoformat()
        ): TimeSelector(),
        vol.Required(
            CONF_NIGHT_END, default=defaults.night_end.isoformat()
        ): TimeSelector(),
        vol.Required(CONF_THRESHOLD, default=defaults.threshold): _number_box(
            0, MAX_THRESHOLD, "L/h", 0.1
        ),
        vol.Required(CONF_NIGHTS, default=defaults.nights): _number_box(
            MIN_NIGHTS, MAX_NIGHTS, None
        ),
    }
    return section(vol.Schema(fields), {"collapsed": True})
