"""Errors a caller of the cloud clients can act on."""


class SmartMeterCloudError(Exception):
    """Base of every error raised by the clients."""


class AuthError(SmartMeterCloudError):
    """The credentials are wrong, or the token was revoked: sign in again."""


DEFAULT_RETRY_AFTER = 60.0


class RateLimitedError(SmartMeterCloudError):
    """The cloud throttles us; do not ask again before `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        """Remember how long the cloud asked us to wait."""
        super().__init__(f"rate limited, retry after {retry_after:g} s")
        self.retry_after = retry_after

    @classmethod
    def from_header(cls, header: str | None) -> RateLimitedError:
        """Read a Retry-After header in seconds; a minute when it says nothing."""
        try:
            return cls(max(float(header), 1.0) if header else DEFAULT_RETRY_AFTER)
        except ValueError:
            return cls(DEFAULT_RETRY_AFTER)


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
