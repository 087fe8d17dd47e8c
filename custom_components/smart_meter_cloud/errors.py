"""What Home Assistant makes of the clients' errors: a translation, an action."""

from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import UpdateFailed

from .api.errors import (
    AuthError,
    BadRequestError,
    CannotConnectError,
    RateLimitedError,
    SmartMeterCloudError,
)
from .const import DOMAIN


def error_key(err: SmartMeterCloudError) -> str:
    """Name the translation that tells a user what went wrong."""
    if isinstance(err, CannotConnectError):
        return "cannot_connect"
    if isinstance(err, RateLimitedError):
        return "rate_limited"
    if isinstance(err, BadRequestError):
        return "bad_request"
    return "invalid_response"


def translated(err: SmartMeterCloudError) -> Exception:
    """Turn a client error into what Home Assistant acts on."""
    if isinstance(err, AuthError):
        return ConfigEntryAuthFailed(
            translation_domain=DOMAIN, translation_key="invalid_auth"
        )
    return UpdateFailed(
        translation_domain=DOMAIN,
        translation_key=error_key(err),
        translation_placeholders={"error": str(err)},
        retry_after=err.retry_after if isinstance(err, RateLimitedError) else None,
    )
