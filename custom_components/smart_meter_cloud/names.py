"""Names the code builds, in Home Assistant's language: meters' devices, appliances.

Entities and devices are named by Home Assistant from translation keys;
statistics, option labels and logbook entries are text the code writes, so
it reads the same translations here, once `async_load_names` has loaded them.
"""

from typing import Final

from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.translation import (
    async_get_cached_translations,
    async_get_translations,
)

from .api.models import Meter
from .const import DOMAIN
from .ids import device_identifier

# Home Assistant has no category for text the code reads: the appliance
# kinds and the run text sit under selectors.
_KIND_KEY: Final = f"component.{DOMAIN}.selector.appliance_kind.options."
_RUN_KEY: Final = f"component.{DOMAIN}.selector.appliance_run.options.ran"
_CATEGORIES: Final = ("device", "selector")


async def async_load_names(hass: HomeAssistant) -> None:
    """Load the names below in Home Assistant's language."""
    for category in _CATEGORIES:
        await async_get_translations(hass, hass.config.language, category, {DOMAIN})


def _translations(hass: HomeAssistant, category: str) -> dict[str, str]:
    return async_get_cached_translations(hass, hass.config.language, category, DOMAIN)


def device_name_key(meter: Meter) -> tuple[str, dict[str, str]]:
    """The translation key of a meter's device name, and its placeholders."""
    # The serial's tail tells meters apart without publishing it.
    return f"{meter.medium}_meter", {"id": (meter.serial or meter.id)[-4:]}


def meter_device_name(
    hass: HomeAssistant, provider: str, entry_id: str, meter: Meter
) -> str:
    """A meter's device name, as the device registry shows it.

    A meter without a device yet (before its entities, or one left out in
    the options) gets the name its device will have.
    """
    device = dr.async_get(hass).async_get_device_by_identifier(
        device_identifier(provider, meter.id), entry_id
    )
    if device is not None and (name := device.name_by_user or device.name):
        return name
    key, placeholders = device_name_key(meter)
    template = _translations(hass, "device").get(
        f"component.{DOMAIN}.device.{key}.name", f"{meter.medium} meter {{id}}"
    )
    return template.format(**placeholders)


def appliance_name(hass: HomeAssistant, kind: str, number: int, raw: str) -> str:
    """An appliance's name: its kind in Home Assistant's language and number.

    A kind we do not name is shown by the cloud's own name.
    """
    if known := _translations(hass, "selector").get(_KIND_KEY + kind):
        return f"{known} {number}"
    return raw


def run_message(hass: HomeAssistant, minutes: int, energy: float) -> str:
    """What an appliance's run shows in the logbook after its name."""
    hours, rest = divmod(minutes, 60)
    duration = " ".join(
        part
        for part, shown in ((f"{hours} h", hours), (f"{rest} min", rest or not hours))
        if shown
    )
    template = _translations(hass, "selector").get(_RUN_KEY) or (
        "ran {duration}, {energy} kWh"
    )
    return template.format(duration=duration, energy=f"{energy:.2f}")
