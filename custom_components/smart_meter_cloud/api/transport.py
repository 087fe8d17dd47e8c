"""Send a request to a cloud and turn what comes back into text or our errors.

The one place where an HTTP outcome becomes an error a caller can act on,
for both clouds: 401 and 403 reject the credentials (AuthError), 429
throttles (RateLimitedError, as long as Retry-After says), any other 4xx
refuses the request (BadRequestError, with the cloud's own text, quoted),
and 5xx, no connection, a timeout or an HTML page instead of the API is an
outage (CannotConnectError). Where the clouds differ, their clients say how.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
import json
from typing import Any

import aiohttp

from .errors import (
    AuthError,
    BadRequestError,
    CannotConnectError,
    RateLimitedError,
    SmartMeterCloudError,
)
from .parsing import not_the_api, quote_cloud_text


@dataclass(frozen=True, slots=True)
class Api:
    """Where a cloud's API answers, through which session, within how long."""

    session: aiohttp.ClientSession
    base_url: str
    timeout: aiohttp.ClientTimeout

    @classmethod
    def at(cls, session: aiohttp.ClientSession, base_url: str, timeout: float) -> Api:
        """The API at an address (a trailing slash is dropped), seconds to answer."""
        return cls(session, base_url.rstrip("/"), aiohttp.ClientTimeout(total=timeout))


@dataclass(frozen=True, slots=True)
class Reply:
    """A cloud's answer, read whole."""

    status: int
    text: str
    headers: Mapping[str, str]
    # The media type aiohttp reads from Content-Type: without parameters,
    # application/octet-stream when there is none.
    media_type: str

    @property
    def content_type(self) -> str:
        """Content-Type as the cloud sent it; empty when there is none."""
        return self.headers.get("Content-Type", "")


async def send(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    where: str | None = None,
    closed_is_outage: bool = False,
    **kwargs: Any,
) -> Reply:
    """Send a request and read its answer; CannotConnectError when none came.

    `kwargs` go to aiohttp as they are, the timeout too. `where` starts the
    message of that error. With `closed_is_outage`, a session that is closed
    is an outage too, not aiohttp's RuntimeError.
    """
    if closed_is_outage and session.closed:
        # Home Assistant has stopped; aiohttp would raise
        raise CannotConnectError("the session is closed")
    prefix = "" if where is None else f"{where}: "
    try:
        async with session.request(method, url, **kwargs) as response:
            text = await response.text()
            return Reply(response.status, text, response.headers, response.content_type)
    except TimeoutError as err:
        raise CannotConnectError(f"{prefix}timed out") from err
    except aiohttp.ClientError as err:
        raise CannotConnectError(f"{prefix}{type(err).__name__}") from err


def answer(
    reply: Reply,
    where: str,
    *,
    content_type: str,
    quote: Callable[[str], str],
    numbered: bool,
) -> str:
    """Return the body of a successful answer; raise what any other stands for.

    `content_type` is the Content-Type as the cloud's client reads it, to
    tell an HTML page from the API's answer. `quote` quotes the cloud's text
    of a refusal. With `numbered`, the errors name the HTTP status, and a
    refusal keeps it; without, they are the cloud's quoted text alone.
    """
    status = reply.status
    if status < 300:
        if (other := not_the_api(reply.text, content_type)) is not None:
            raise CannotConnectError(f"{where}: {other} instead of the API")
        return reply.text
    raise _refusal(reply, where, quote, numbered=numbered)


def _refusal(
    reply: Reply, where: str, quote: Callable[[str], str], *, numbered: bool
) -> SmartMeterCloudError:
    status = reply.status
    if status in (401, 403):
        return AuthError(f"HTTP {status}" if numbered else quote(reply.text))
    if status == 429:
        return RateLimitedError.from_header(reply.headers.get("Retry-After"))
    if 400 <= status < 500:
        if numbered:
            text = f"HTTP {status}: {quote(reply.text)}"
            return BadRequestError(text, status=status)
        return BadRequestError(quote(reply.text))
    return CannotConnectError(f"{where}: HTTP {status}")


def token_answer(reply: Reply, where: str) -> str:
    """Return the body of an OAuth 2.0 token endpoint's answer, whatever its status.

    A sign-in service refuses with 400 or 401 and an OAuth error in the body
    (invalid_client and the like), for the OAuth client to read: only what
    no sign-in service answers is an error here.
    """
    if reply.status == 429:
        # The sign-in service throttles: wait, the secret is not wrong.
        raise RateLimitedError.from_header(reply.headers.get("Retry-After"))
    if reply.status >= 500:
        raise CannotConnectError(f"{where}: HTTP {reply.status}")
    # Whatever the status: no sign-in service answers so.
    if (other := not_the_api(reply.text, reply.content_type)) is not None:
        raise CannotConnectError(f"{where}: {other} instead of a token")
    return reply.text


def problem(text: str) -> str:
    """Quote a problem's title and detail (RFC 9457), never a whole page."""
    try:
        data = json.loads(text)
        quoted = " ".join(str(data.get(k) or "") for k in ("title", "detail"))
    except ValueError, AttributeError:
        return "(no details)"
    return quote_cloud_text(quoted)


def plain(text: str) -> str:
    """Quote an error body on one line; HTML pages are not worth quoting."""
    if "<" in text:
        return "(HTML page)"
    return quote_cloud_text(text)
