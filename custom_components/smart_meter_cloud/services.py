"""The actions: import a range of hourly statistics again; cost hours again."""

from datetime import timedelta

from homeassistant.const import ATTR_CONFIG_ENTRY_ID
from homeassistant.core import HomeAssistant, ServiceCall, callback
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import config_validation as cv, service
from homeassistant.util import dt as dt_util
import probatio as vol

from .api.errors import AuthError, SmartMeterCloudError
from .const import DOMAIN, MAX_HISTORY_DAYS
from .errors import error_key
from .runtime import SmartMeterConfigEntry
from .statistics.rows import floor_hour

SERVICE_IMPORT_HISTORY = "import_history"
SERVICE_RECOMPUTE_COSTS = "recompute_costs"
ATTR_START = "start"
ATTR_END = "end"

# Costing again needs only where to start; importing also where to end.
COSTS_SCHEMA = vol.Schema(
    {
        vol.Required(ATTR_CONFIG_ENTRY_ID): cv.string,
        vol.Required(ATTR_START): cv.datetime,
    }
)
SCHEMA = COSTS_SCHEMA.extend({vol.Required(ATTR_END): cv.datetime})


@callback
def async_setup_services(hass: HomeAssistant) -> None:
    """Register the integration's actions."""

    async def import_history(call: ServiceCall) -> None:
        # Home Assistant's own check names what is wrong with the entry.
        entry: SmartMeterConfigEntry = service.async_get_config_entry(
            hass, DOMAIN, call.data[ATTR_CONFIG_ENTRY_ID]
        )
        # as_utc reads a time without zone in Home Assistant's time zone.
        start = floor_hour(dt_util.as_utc(call.data[ATTR_START]))
        end = floor_hour(dt_util.as_utc(call.data[ATTR_END]))
        now = dt_util.utcnow()
        if not (now - timedelta(days=MAX_HISTORY_DAYS) <= start < end <= now):
            raise ServiceValidationError(
                translation_domain=DOMAIN,
                translation_key="invalid_range",
                translation_placeholders={"days": str(MAX_HISTORY_DAYS)},
            )
        runtime = entry.runtime_data
        try:
            for meter in list(runtime.coordinator.meters.values()):
                await runtime.statistics.async_import_range(meter, start, end)
        except AuthError as err:
            entry.async_start_reauth(hass)
            raise HomeAssistantError(
                translation_domain=DOMAIN, translation_key="invalid_auth"
            ) from err
        except SmartMeterCloudError as err:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key=error_key(err),
                translation_placeholders={"error": str(err)},
            ) from err

    async def recompute_costs(call: ServiceCall) -> None:
        entry: SmartMeterConfigEntry = service.async_get_config_entry(
            hass, DOMAIN, call.data[ATTR_CONFIG_ENTRY_ID]
        )
        start = floor_hour(dt_util.as_utc(call.data[ATTR_START]))
        if start > dt_util.utcnow():
            raise ServiceValidationError(
                translation_domain=DOMAIN, translation_key="start_in_the_future"
            )
        await entry.runtime_data.statistics.async_recompute_costs(start)

    hass.services.async_register(
        DOMAIN, SERVICE_IMPORT_HISTORY, import_history, schema=SCHEMA
    )
    hass.services.async_register(
        DOMAIN, SERVICE_RECOMPUTE_COSTS, recompute_costs, schema=COSTS_SCHEMA
    )
