"""Appliance runs in the logbook, on their meter's device, at their own time."""

from collections.abc import Callable

from homeassistant.components.logbook.const import (
    LOGBOOK_ENTRY_ICON,
    LOGBOOK_ENTRY_MESSAGE,
    LOGBOOK_ENTRY_NAME,
)
from homeassistant.core import Event, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .names import appliance_name, run_message
from .statistics.appliances import EVENT_APPLIANCE_RUN


@callback
def async_describe_events(
    hass: HomeAssistant,
    async_describe_event: Callable[[str, str, Callable[[Event], dict[str, str]]], None],
) -> None:
    """Describe an appliance's run: "Dishwasher 1 ran 1 h 12 min, 0.92 kWh"."""

    @callback
    def describe(event: Event) -> dict[str, str]:
        data = event.data
        start = dt_util.parse_datetime(str(data.get("start", "")))
        end = dt_util.parse_datetime(str(data.get("end", "")))
        minutes = round((end - start).total_seconds() / 60) if start and end else 0
        kind, number = str(data.get("kind", "")), int(data.get("number") or 0)
        name = str(data.get("name") or data.get("appliance_id", ""))
        return {
            LOGBOOK_ENTRY_NAME: appliance_name(hass, kind, number, name),
            LOGBOOK_ENTRY_MESSAGE: run_message(
                hass, minutes, float(data.get("energy") or 0)
            ),
            LOGBOOK_ENTRY_ICON: "mdi:power-plug-outline",
        }

    async_describe_event(DOMAIN, EVENT_APPLIANCE_RUN, describe)
