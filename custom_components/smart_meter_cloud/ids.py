"""The one place that names what the integration registers in Home Assistant.

Devices, entities, statistics and repair issues are found again by these
ids after a restart, and users' dashboards and automations hang on them:
changing a scheme needs a step in `migrations.py` (`async_rename_ids`).
"""

from functools import lru_cache
import re

from homeassistant.config_entries import ConfigEntry
from homeassistant.helpers import device_registry as dr

from .api.models import Quantity
from .const import DOMAIN


def device_identifier(provider: str, meter_id: str) -> tuple[str, str]:
    """Name a meter's device in the device registry."""
    return (DOMAIN, f"{provider}_{meter_id}")


def meter_of_device(device: dr.DeviceEntry, provider: str) -> str:
    """The meter id a device of ours stands for; empty for none."""
    prefix = f"{provider}_"
    return next(
        (
            name.removeprefix(prefix)
            for domain, name in device.identifiers
            if domain == DOMAIN and name.startswith(prefix)
        ),
        "",
    )


def entity_unique_id(provider: str, meter_id: str, key: str) -> str:
    """Name a meter's entity in the entity registry (key: its description's)."""
    return f"{provider}_{meter_id}_{key}"


def _slug(text: str) -> str:
    """Lower case letters, digits and underscores, as recorder ids must be."""
    return re.sub(r"[^a-z0-9_]", "_", text.lower())


@lru_cache(maxsize=1 << 16)
def statistic_id(provider: str, meter_id: str, quantity: Quantity) -> str:
    """`smart_meter_cloud:<provider>_<meter>_<quantity>`, as recorder ids must be."""
    return f"{DOMAIN}:{provider}_{_slug(meter_id)}_{quantity}"


def appliance_key(appliance_id: str) -> str:
    """The key of an appliance's entities among its meter's (see `entity_unique_id`)."""
    return f"appliance_{appliance_id}"


def appliance_statistic_id(provider: str, meter_id: str, appliance_id: str) -> str:
    """`smart_meter_cloud:<provider>_<meter>_appliance_<appliance>`: its energy."""
    return f"{DOMAIN}:{provider}_{_slug(meter_id)}_{appliance_key(_slug(appliance_id))}"


def cost_word(quantity: Quantity) -> str:
    """What a register's money is called: what is sold earns a compensation."""
    return "compensation" if quantity is Quantity.ENERGY_EXPORT else "cost"


def cost_statistic_id(provider: str, meter_id: str, quantity: Quantity) -> str:
    """The statistic of a register's cost, beside its consumption's."""
    return f"{statistic_id(provider, meter_id, quantity)}_{cost_word(quantity)}"


def statistic_prefix(provider: str) -> str:
    """What the statistic ids of every meter of a provider start with."""
    return f"{DOMAIN}:{provider}_"


def issue_id(key: str, entry: ConfigEntry) -> str:
    """Name an entry's repair issue of a kind (key: its translation key)."""
    return f"{key}_{entry.entry_id}"


def store_key(entry: ConfigEntry, what: str) -> str:
    """Name what an entry keeps in Home Assistant's storage."""
    return f"{DOMAIN}.{entry.entry_id}.{what}"
