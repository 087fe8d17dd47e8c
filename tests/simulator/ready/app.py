"""READY API Access as an aiohttp app: its routes, sign-in and answers.

It follows the contract in ``docs/ready-api-contract.md``: OAuth2 client
credentials (Azure AD style token endpoint on the same host), the REST paths
under ``/api/v1`` and webhook subscriptions (push.py confirms and feeds them).
Errors are RFC 9457 problems as ASP.NET Core writes them, and Azure AD's for
the token endpoint.
"""

import base64
from collections.abc import Awaitable, Callable
import contextlib
from datetime import UTC, datetime
import logging
import secrets
from typing import Any
from urllib.parse import urlsplit
import uuid

from aiohttp import web

from tests.simulator import NON_FINITE_MARK
from tests.simulator.server import Abort, Handler, json_answer

from .model import (
    _DAY,
    _HOUR,
    MAX_READINGS,
    RESOURCES,
    Fault,
    ReadyMeter,
    Subscription,
    _dumps,
    _epoch,
)
from .push import ReadyPushes

_LOGGER = logging.getLogger(__name__)

API_PATH = "/api/v1"
SUBSCRIPTIONS_PATH = f"{API_PATH}/webhooks/subscriptions"
MAX_PAGE_SIZE = 100
MAX_LATEST_IDS = 100

_RESOLUTIONS = {"hour": _HOUR, "day": _DAY}
_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
}


def _problem(status: int, detail: str, **headers: str) -> Abort:
    """Return an RFC 9457 problem answer, as ASP.NET Core writes them."""
    body = {
        "type": _PROBLEM_TYPES.get(status, "about:blank"),
        "title": web.Response(status=status).reason,
        "status": status,
        "detail": detail,
        "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
    }
    return _error(status, body, "application/problem+json", headers)


def _oauth_error(
    status: int, error: str, description: str, code: int, retry_after: str = ""
) -> Abort:
    """Return an Azure AD style token endpoint error."""
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    body = {
        "error": error,
        "error_description": (
            f"AADSTS{code}: {description} Trace ID: {trace} "
            f"Correlation ID: {correlation} Timestamp: {now}"
        ),
        "error_codes": [code],
        "timestamp": now,
        "trace_id": trace,
        "correlation_id": correlation,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }
    headers = {"Retry-After": retry_after} if retry_after else {}
    return _error(status, body, "application/json", headers)


def _error(
    status: int, body: dict[str, Any], content_type: str, headers: dict[str, str]
) -> Abort:
    return Abort(
        web.Response(
            status=status,
            body=_dumps(body),
            content_type=content_type,
            charset="utf-8",
            headers=headers,
        )
    )


def _parse_time(name: str, raw: str | None) -> int:
    """Parse an ISO 8601 query value to epoch seconds (naive: UTC)."""
    if not raw:
        raise _problem(400, f"The '{name}' parameter is required.")
    candidates = [raw]
    head, sep, tail = raw.rpartition(" ")  # a '+' of an unencoded offset became ' '
    if sep and "T" in head:
        candidates.append(f"{head}+{tail}")
    for candidate in candidates:
        with contextlib.suppress(ValueError):
            return _epoch(datetime.fromisoformat(candidate))
    raise _problem(400, f"The value '{raw}' is not a valid ISO 8601 date for '{name}'.")


def _int_param(request: web.Request, name: str, default: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise _problem(400, f"The value '{raw}' is not valid for '{name}'.") from None


class ReadySimulator(ReadyPushes):
    """The fake READY cloud. Mutate meters, fault, api_key, ... freely from tests."""

    gateway = "Microsoft-Azure-Application-Gateway/v2"
    server_error = 503

    @property
    def token_url(self) -> str:
        """Return the token endpoint URL (valid after start)."""
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def scope(self) -> str:
        """Return the scope a client is expected to ask for."""
        return f"{self.base_url}/.default"

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        api = self._api
        router.add_get(f"{API_PATH}/meters", api(self._meters))
        router.add_get(f"{API_PATH}/readings/latest", api(self._latest))
        router.add_get(f"{API_PATH}/meters/{{meter_id}}/readings", api(self._history))
        router.add_get(SUBSCRIPTIONS_PATH, api(self._list_subscriptions))
        router.add_post(SUBSCRIPTIONS_PATH, api(self._subscribe))
        one = f"{SUBSCRIPTIONS_PATH}/{{subscription_id}}"
        router.add_get(one, api(self._get_subscription))
        router.add_delete(one, api(self._unsubscribe))

    async def _answer(
        self, request: web.Request, path: str, handler: Handler
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as err:  # unknown path or method under the API
            if not request.path.startswith(f"{API_PATH}/") or err.status < 400:
                raise
            raise _problem(err.status, err.reason) from None

    # ---- OAuth2 client credentials ---------------------------------------------------
    async def _token(self, request: web.Request) -> web.Response:
        if self.token_fault is Fault.RATE_LIMITED:
            raise _oauth_error(
                429,
                "temporarily_unavailable",
                "Request throttled.",
                50196,
                retry_after=str(self.retry_after),
            )
        await self._answer_fault(self.token_fault, None)  # not TIMEOUT
        if request.content_type != "application/x-www-form-urlencoded":
            raise _oauth_error(
                400,
                "invalid_request",
                "The request body must be application/x-www-form-urlencoded.",
                900144,
            )
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            raise _oauth_error(
                400,
                "unsupported_grant_type",
                "The provided value for the input parameter 'grant_type' is not "
                "valid. Expected value: client_credentials.",
                70003,
            )
        client_id = str(form.get("client_id", ""))
        client_secret = str(form.get("client_secret", ""))
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":  # client_secret_basic, as RFC 6749 allows
            with contextlib.suppress(ValueError):
                decoded = base64.b64decode(header[6:], validate=True).decode()
                client_id, _, client_secret = decoded.partition(":")
        if not str(form.get("scope", "")).strip():
            raise _oauth_error(
                400,
                "invalid_request",
                "The request body must contain the following parameter: 'scope'.",
                900144,
            )
        if (
            self.fault is Fault.INVALID_CLIENT
            or request.match_info["tenant"] != self.tenant_id
            or client_id != self.client_id
            or not secrets.compare_digest(client_secret, self.client_secret)
        ):
            raise _oauth_error(
                401,
                "invalid_client",
                "Invalid client secret provided. Ensure the secret being sent in "
                f"the request is the client secret value for app '{client_id}'.",
                7000215,
            )
        token = self.issue_token(f"{request.scheme}://{request.host}", client_id)
        lifetime: int | str = self.token_lifetime
        if self.token_fault is Fault.NON_FINITE:
            lifetime = NON_FINITE_MARK
        elif self.token_fault is Fault.WRONG_SHAPE:
            lifetime = "an hour"
        return json_answer(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            },
            self.non_finite,
        )

    # ---- /api/v1 ------------------------------------------------------------------
    def _api(
        self, build: Callable[[web.Request], Awaitable[web.Response]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            await self._apply_fault()
            self._authenticate(request)
            return await build(request)

        return handler

    async def _apply_fault(self) -> None:
        fault = self.fault
        if fault is Fault.RATE_LIMITED:
            raise _problem(
                429,
                f"Rate limit exceeded. Try again in {self.retry_after} seconds.",
                **{"Retry-After": str(self.retry_after)},
            )
        # SERVER_ERROR, HTML_PAGE, EMPTY_ANSWER, TIMEOUT
        await self._answer_fault(fault, lambda: self.fault is Fault.TIMEOUT)

    def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if header[:7].lower() != "bearer " or not header[7:].strip():
            detail, challenge = "A Bearer token is required.", "Bearer"
        elif (token := self._tokens.get(header[7:].strip())) is None:
            detail = "The access token is invalid or has been revoked."
            challenge = 'Bearer error="invalid_token"'
        elif self.clock() >= token.expires_at:
            detail = "The access token has expired."
            challenge = 'Bearer error="invalid_token", error_description="expired"'
        else:
            return
        raise _problem(401, detail, **{"WWW-Authenticate": challenge})

    async def _meters(self, request: web.Request) -> web.Response:
        page = _int_param(request, "page", 1)
        size = _int_param(request, "pageSize", MAX_PAGE_SIZE)
        if page < 1:
            raise _problem(400, "'page' must be 1 or greater.")
        if not 1 <= size <= MAX_PAGE_SIZE:
            raise _problem(400, f"'pageSize' must be between 1 and {MAX_PAGE_SIZE}.")
        first = (page - 1) * size
        items = [m.info() for m in self.meters[first : first + size]]
        return web.json_response(
            {
                "items": items,
                "page": page,
                "pageSize": size,
                "totalCount": len(self.meters),
            }
        )

    async def _latest(self, request: web.Request) -> web.Response:
        await self._hold_or_time_out(lambda: self._latest_held)
        ids: list[str] = []
        for raw in request.query.getall("meterIds", []):  # a,b,c or repeated
            ids += [i.strip() for i in raw.split(",") if i.strip()]
        ids = list(dict.fromkeys(ids))
        if not ids:
            raise _problem(400, "The 'meterIds' parameter is required.")
        if len(ids) > MAX_LATEST_IDS:
            raise _problem(400, f"At most {MAX_LATEST_IDS} meterIds per request.")
        known = {m.meter_id: m for m in self.meters}
        self._refuse([known[i] for i in ids if i in known])
        at = self.last_hour()
        return self._readings_response(
            [known[i].reading(at) for i in ids if i in known]
        )

    async def _history(self, request: web.Request) -> web.Response:
        await self._hold_or_time_out(
            lambda: self._history_left is not None and self._history_left <= 0
        )
        if self._history_left is not None:
            self._history_left -= 1
        meter_id = request.match_info["meter_id"]
        try:
            meter = self.meter(meter_id)
        except KeyError:
            raise _problem(404, f"Meter '{meter_id}' was not found.") from None
        self._refuse([meter])
        start = _parse_time("from", request.query.get("from"))
        end = _parse_time("to", request.query.get("to"))
        raw = request.query.get("resolution", "Hour")
        if (step := _RESOLUTIONS.get(raw.lower())) is None:
            raise _problem(400, f"The value '{raw}' is not valid for 'resolution'.")
        if start > end:
            raise _problem(400, "'from' must not be after 'to'.")
        first = -(-start // step) * step  # the first boundary >= start
        if first <= end and (end - first) // step + 1 > MAX_READINGS:
            raise _problem(400, f"At most {MAX_READINGS} readings per request.")
        stop = min(end, self.last_hour())  # nothing from the future
        hours = self.window.answered(range(first, stop + 1, step), end, self.clock())
        return self._readings_response([meter.reading(t) for t in hours])

    def _refuse(self, meters: list[ReadyMeter]) -> None:
        if self.fault is Fault.REFUSED:
            serials = ", ".join(m.serial_number for m in meters)
            raise _problem(400, f"The meters {serials} cannot be read now.")

    def _readings_response(self, readings: list[dict[str, Any]]) -> web.Response:
        return json_answer(self.answered(readings), self.non_finite)

    async def _list_subscriptions(self, request: web.Request) -> web.Response:
        return web.json_response([s.as_json() for s in self.subscriptions.values()])

    async def _get_subscription(self, request: web.Request) -> web.Response:
        return web.json_response(self._subscription_of(request).as_json())

    def _subscription_of(self, request: web.Request) -> Subscription:
        subscription_id = request.match_info["subscription_id"]
        if (sub := self.subscriptions.get(subscription_id)) is None:
            raise _problem(404, f"Subscription '{subscription_id}' was not found.")
        return sub

    async def _subscribe(self, request: web.Request) -> web.Response:
        await self._hold_or_time_out(lambda: self._subscribe_held)
        try:
            body = await request.json()
        except ValueError:
            raise _problem(400, "The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise _problem(400, "The request body must be a JSON object.")
        uris: list[str] = []
        for name in ("webhookUri", "statusUri"):
            value = body.get(name)
            parts = urlsplit(value) if isinstance(value, str) else None
            if (
                parts is None
                or parts.scheme not in ("http", "https")
                or not parts.netloc
            ):
                raise _problem(400, f"'{name}' must be an absolute http(s) URI.")
            uris.append(str(value))
        resources = body.get("resources")
        if (
            not isinstance(resources, list)
            or not resources
            or any(r not in RESOURCES for r in resources)
        ):
            raise _problem(
                400, f"'resources' must be a non-empty subset of {list(RESOURCES)}."
            )
        sub = Subscription(str(uuid.uuid4()), uris[0], uris[1], list(resources))
        self.subscriptions[sub.subscription_id] = sub
        _LOGGER.info("subscription %s created for %s", sub.subscription_id, uris[0])
        response = web.json_response(
            {"subscriptionId": sub.subscription_id, "status": sub.status},
            status=201,
            headers={"Location": f"{SUBSCRIPTIONS_PATH}/{sub.subscription_id}"},
        )
        await response.prepare(request)  # the client has the id before verification
        await response.write_eof()
        self._spawn(self._verify(sub))
        return response

    async def _unsubscribe(self, request: web.Request) -> web.Response:
        sub = self._subscription_of(request)
        del self.subscriptions[sub.subscription_id]
        self._pending = [
            p for p in self._pending if p.subscription_id != sub.subscription_id
        ]
        _LOGGER.info("subscription %s deleted", sub.subscription_id)
        return web.Response(status=204)
