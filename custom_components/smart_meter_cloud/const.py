"""Constants shared by the Home Assistant side of the integration."""

from datetime import timedelta
from typing import Final

DOMAIN: Final = "smart_meter_cloud"

CONF_PROVIDER: Final = "provider"
CONF_BASE_URL: Final = "base_url"
CONF_CONSUMER_KEY: Final = "consumer_key"
CONF_CONSUMER_SECRET: Final = "consumer_secret"
CONF_ACCESS_TOKEN_SECRET: Final = "access_token_secret"
CONF_METERS: Final = "meters"

PROVIDER_INEXOGY: Final = "inexogy"

DEFAULT_SCAN_INTERVAL: Final = {PROVIDER_INEXOGY: timedelta(seconds=30)}
MIN_SCAN_INTERVAL: Final = timedelta(seconds=10)
MAX_SCAN_INTERVAL: Final = timedelta(hours=24)
