"""READY's sign-in: an OAuth 2.0 client-credentials token, kept until it is due."""

import time
from typing import Final

import aiohttp
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error

from ..errors import AuthError, InvalidResponseError
from ..parsing import load_json
from ..transport import send, token_answer

TOKEN_URL: Final = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
# Renew the token this long before it expires, so no request carries a stale one.
_TOKEN_MARGIN: Final = 60.0


class AccessToken:
    """A client-credentials token of the sign-in service, fetched when needed."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str,
        timeout: aiohttp.ClientTimeout,
    ) -> None:
        """Configure; nothing is requested before the token is first wanted."""
        self._session = session
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._scope = scope
        self._timeout = timeout
        self._token: str | None = None
        self._token_expires = 0.0

    def forget(self) -> None:
        """Drop the token READY rejected: the next request fetches a new one."""
        self._token = None

    async def get(self) -> str:
        """Return the token, fetching a new one when there is none or it is due."""
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        oauth = BackendApplicationClient(client_id=self._client_id)
        form = oauth.prepare_request_body(
            scope=[self._scope],
            client_secret=self._client_secret,
            include_client_id=True,
        )
        reply = await send(
            self._session,
            "POST",
            self._token_url,
            closed_is_outage=True,
            timeout=self._timeout,
            data=form,
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Accept": "application/json",
            },
        )
        text = token_answer(reply, "token")
        load_json(text, "token")  # oauthlib's json takes NaN and Infinity too
        try:
            token = oauth.parse_request_body_response(text, scope=[self._scope])
        except OAuth2Error as err:
            # invalid_client, unauthorized_client and the like: sign in again.
            raise AuthError(f"token: {err.error}") from err
        except (ValueError, TypeError, OverflowError) as err:
            raise InvalidResponseError("token: unexpected answer") from err
        lifetime = float(token.get("expires_in") or 3600)
        self._token = str(token["access_token"])
        self._token_expires = time.monotonic() + max(lifetime - _TOKEN_MARGIN, 0.0)
        return self._token
