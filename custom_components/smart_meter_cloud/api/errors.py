"""Errors a caller of the cloud clients can act on."""

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
import math


class SmartMeterCloudError(Exception):
    """Base of every error raised by the clients."""


class AuthError(SmartMeterCloudError):
    """The credentials are wrong, or the token was revoked: sign in again."""


DEFAULT_RETRY_AFTER = 60.0
# However long a cloud asks us to wait: at least a second, at most an hour.
MIN_RETRY_AFTER = 1.0
MAX_RETRY_AFTER = 3600.0


class RateLimitedError(SmartMeterCloudError):
    """The cloud throttles us; do not ask again before `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        """Remember how long the cloud asked us to wait."""
        super().__init__(f"rate limited, retry after {retry_after:g} s")
        self.retry_after = retry_after

    @classmethod
    def from_header(
        cls, header: str | None, now: datetime | None = None
    ) -> RateLimitedError:
        """Read a Retry-After header: seconds or an HTTP date (RFC 9110, 10.2.3).

        A minute when it says nothing we can read. The wait is kept between
        a second and an hour: a cloud asking for days (or for ever) would
        otherwise stop the polling for good.
        """
        seconds = _retry_after_seconds(header, now or datetime.now(UTC))
        if seconds is None:
            return cls(DEFAULT_RETRY_AFTER)
        return cls(min(max(seconds, MIN_RETRY_AFTER), MAX_RETRY_AFTER))


def _retry_after_seconds(header: str | None, now: datetime) -> float | None:
    """Return the seconds a Retry-After asks for; None when it says nothing."""
    if not header or not (header := header.strip()):
        return None
    try:
        seconds = float(header)
    except ValueError:
        try:
            moment = parsedate_to_datetime(header)
        except TypeError, ValueError, IndexError, OverflowError:
            return None
        if moment.tzinfo is None:  # "-0000": UTC, as HTTP dates always are
            moment = moment.replace(tzinfo=UTC)
        seconds = (moment - now).total_seconds()
    return seconds if math.isfinite(seconds) else None


class BadRequestError(SmartMeterCloudError):
    """The cloud refused a request; the message is the cloud's own text."""

    def __init__(self, message: str, status: int = 400) -> None:
        """Keep the HTTP status beside the cloud's text."""
        super().__init__(message)
        self.status = status


class CannotConnectError(SmartMeterCloudError):
    """The cloud is unreachable: DNS, timeout, refused connection or an outage page."""


class InvalidResponseError(SmartMeterCloudError):
    """The cloud answered with something that is not what the API promises."""
