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
CONF_HISTORY_DAYS: Final = "history_days"
# The earliest hour history was imported from; more is fetched when the
# history_days option reaches further back.
CONF_HISTORY_START: Final = "history_start"
CONF_TENANT_ID: Final = "tenant_id"
CONF_TOKEN_URL: Final = "token_url"
CONF_SCOPE: Final = "scope"
CONF_STATUS_WEBHOOK_ID: Final = "status_webhook_id"
# The Home Assistant Cloud addresses of both webhooks, once READY was given
# them: a subscription to them is found again after the entry is gone.
CONF_CLOUDHOOK_URLS: Final = "cloudhook_urls"

PROVIDER_INEXOGY: Final = "inexogy"
PROVIDER_READY: Final = "kamstrup_ready"
REGION_CUSTOM: Final = "custom"

DEFAULT_SCAN_INTERVAL: Final = {
    PROVIDER_INEXOGY: timedelta(seconds=30),
    # READY pushes; polling is the safety net.
    PROVIDER_READY: timedelta(hours=1),
}
# Days of history imported at first setup; up to three years on request.
DEFAULT_HISTORY_DAYS: Final = 30
MIN_HISTORY_DAYS: Final = 1
MAX_HISTORY_DAYS: Final = 3 * 365
MIN_SCAN_INTERVAL: Final = timedelta(seconds=10)
MAX_SCAN_INTERVAL: Final = timedelta(hours=24)
