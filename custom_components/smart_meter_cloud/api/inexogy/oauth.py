"""inexogy's OAuth 1.0a: the authorization with e-mail and password, and signing.

The authorization takes four steps: a consumer token for our application,
a request token, the user's e-mail and password for a verifier, and the
access token for it. Data requests are signed with the access token by
`DataSigner`, the authorization's steps by oauthlib.
"""

import base64
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
import hashlib
import hmac
import logging
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode

from oauthlib import oauth1
from oauthlib.common import generate_nonce, generate_timestamp
from oauthlib.oauth1.rfc5849.signature import base_string_uri
from oauthlib.oauth1.rfc5849.utils import escape

from ..errors import InvalidResponseError
from ..parsing import load_json


def _above_debug(record: logging.LogRecord) -> bool:
    return record.levelno > logging.DEBUG


# oauthlib's debug lines show what a request is signed with, consumer key and
# tokens included: never let them out, whatever level its logger is set to.
logging.getLogger("oauthlib.oauth1.rfc5849").addFilter(_above_debug)

APP_NAME: Final = "Home Assistant Smart Meter Cloud"


@dataclass(frozen=True, slots=True)
class InexogyCredentials:
    """What an authorization yields; the password is not part of it."""

    consumer_key: str
    consumer_secret: str
    access_token: str
    access_token_secret: str


class DataSigner:
    """Signs data requests with the access token (OAuth 1.0a, HMAC-SHA1).

    What oauthlib's general ``Client.sign`` computes (RFC 5849, 3.4), but the
    parts that never change between requests (keys, token, secrets,
    addresses) are escaped once: per request only the nonce, the timestamp
    and the query are new. ``Client.sign`` re-parses and re-escapes them all,
    about 140 us of every request.
    """

    def __init__(self, credentials: InexogyCredentials) -> None:
        """Escape the constant parameters and prepare the key once."""
        self.credentials = credentials
        constant = {
            "oauth_consumer_key": credentials.consumer_key,
            "oauth_signature_method": "HMAC-SHA1",
            "oauth_token": credentials.access_token,
            "oauth_version": "1.0",
        }
        self._constant = [(_escape(k), _escape(v)) for k, v in constant.items()]
        self._header = ", ".join(f'{k}="{v}"' for k, v in self._constant)
        secrets = (credentials.consumer_secret, credentials.access_token_secret)
        key = "&".join(_escape(secret) for secret in secrets)
        self._mac = hmac.new(key.encode(), digestmod=hashlib.sha1)
        self._uris: dict[str, str] = {}

    def authorization(
        self, method: str, url: str, params: Mapping[str, str] | None
    ) -> str:
        """Return the Authorization header for a request without a body."""
        if (uri := self._uris.get(url)) is None:
            uri = self._uris[url] = _escape(base_string_uri(url))
        # Digits only: nothing to escape.
        nonce, timestamp = generate_nonce(), generate_timestamp()
        pairs = [
            *self._constant,
            ("oauth_nonce", nonce),
            ("oauth_timestamp", timestamp),
        ]
        if params:
            pairs += [(_escape(k), _escape(v)) for k, v in params.items()]
        pairs.sort()
        normalized = "&".join([f"{k}={v}" for k, v in pairs])
        mac = self._mac.copy()
        mac.update(f"{method.upper()}&{uri}&{_escape(normalized)}".encode())
        signature = _escape(base64.b64encode(mac.digest()).decode())
        return (
            f'OAuth oauth_nonce="{nonce}", oauth_timestamp="{timestamp}", '
            f'{self._header}, oauth_signature="{signature}"'
        )


def _escape(value: str) -> str:
    """Oauthlib's RFC 5849 escape, skipped for the many values that need none."""
    if value.isascii() and value.isalnum():
        return value
    escaped: str = escape(value)  # untyped in oauthlib
    return escaped


type Signer = oauth1.Client | DataSigner
# Sends a request (method, path, query, form, signer) and returns the body
# of its answer, or raises what the answer stands for.
type Send = Callable[
    [str, str, Mapping[str, str] | None, str | None, Signer | None], Awaitable[str]
]


async def obtain_credentials(
    send: Send, email: str, password: str
) -> InexogyCredentials:
    """Run the OAuth 1.0a dance with e-mail and password; return the tokens."""
    path = "/oauth1/consumer_token"
    form = urlencode({"client": APP_NAME})
    consumer = load_json(await send("POST", path, None, form, None), path)
    key, secret = _required(consumer, path, "key", "secret")
    path = "/oauth1/request_token"
    answer = await _form(
        send, "POST", path, oauth1.Client(key, secret, callback_uri="oob")
    )
    token, token_secret = _required(answer, path, "oauth_token", "oauth_token_secret")
    path = "/oauth1/authorize"
    answer = await _form(
        send,
        "GET",
        path,
        params={"oauth_token": token, "email": email, "password": password},
    )
    (verifier,) = _required(answer, path, "oauth_verifier")
    path = "/oauth1/access_token"
    answer = await _form(
        send,
        "POST",
        path,
        oauth1.Client(
            key,
            secret,
            resource_owner_key=token,
            resource_owner_secret=token_secret,
            verifier=verifier,
        ),
    )
    access, access_secret = _required(answer, path, "oauth_token", "oauth_token_secret")
    return InexogyCredentials(key, secret, access, access_secret)


async def _form(
    send: Send,
    method: str,
    path: str,
    signer: Signer | None = None,
    *,
    params: Mapping[str, str] | None = None,
) -> dict[str, str]:
    text = await send(method, path, params, None, signer)
    return dict(parse_qsl(text.strip()))


def _required(answer: Any, path: str, *names: str) -> list[str]:
    """Return the named values of an authorization step's answer.

    InvalidResponseError if one is missing or empty: it is no answer of
    the API's, and no token to sign with.
    """
    if not isinstance(answer, Mapping) or not all(
        isinstance(answer.get(name), str) and answer[name] for name in names
    ):
        raise InvalidResponseError(f"{path}: no {' and '.join(names)}")
    return [answer[name] for name in names]


def signed(
    signer: Signer | None,
    method: str,
    url: str,
    params: Mapping[str, str] | None,
    body: str | None,
    headers: dict[str, str],
) -> tuple[str, dict[str, str], str | None]:
    """Return a request's URL with its query, its headers and body, signed.

    A data request is signed by the DataSigner over the URL and its
    parameters; an authorization step by oauthlib over the URL with its
    query, and the form.
    """
    if isinstance(signer, DataSigner):
        headers["Authorization"] = signer.authorization(method, url, params)
    if params:
        url += "?" + "&".join(f"{_escape(k)}={_escape(v)}" for k, v in params.items())
    if isinstance(signer, oauth1.Client):
        url, headers, body = signer.sign(url, method, body, headers)
    return url, headers, body
