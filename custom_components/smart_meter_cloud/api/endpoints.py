"""Where the clouds' APIs are, for forms that show them before any client runs.

Kept apart from the clients so that showing a form imports neither them nor
oauthlib.
"""

from typing import Final

# inexogy (formerly Discovergy)
DEFAULT_BASE_URL: Final = "https://api.inexogy.com/public/v1"

# Kamstrup READY API Access, by region
BASE_URLS: Final = {
    "eu": "https://api-eu.ready.kamstrup.com",
    "us": "https://api-us.ready.kamstrup.com",
}
