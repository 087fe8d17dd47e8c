"""Constants shared by the Home Assistant side of the integration."""

from datetime import timedelta
from typing import Final

from homeassistant.const import Platform

DOMAIN: Final = "smart_meter_cloud"
PLATFORMS: Final = [Platform.BINARY_SENSOR, Platform.SENSOR]

# Which cloud an entry is of: a key of providers.PROVIDERS.
CONF_PROVIDER: Final = "provider"
CONF_BASE_URL: Final = "base_url"
CONF_METERS: Final = "meters"
CONF_HISTORY_DAYS: Final = "history_days"
# Where 0.2 kept the earliest hour history was imported from; now in storage.
CONF_HISTORY_START: Final = "history_start"

# Days of history imported at first setup; up to three years on request.
DEFAULT_HISTORY_DAYS: Final = 30
MIN_HISTORY_DAYS: Final = 1
MAX_HISTORY_DAYS: Final = 3 * 365
MIN_SCAN_INTERVAL: Final = timedelta(seconds=10)
MAX_SCAN_INTERVAL: Final = timedelta(hours=24)

# The prices option: per tariff (quantities.TARIFFS) a fixed price under its
# name, or a price entity under its name and PRICE_ENTITY_SUFFIX.
CONF_PRICES: Final = "prices"
PRICE_ENTITY_SUFFIX: Final = "_entity"
