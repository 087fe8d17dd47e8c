"""The inexogy API as an aiohttp app: its routes, authorization and answers.

OAuth 1.0a HMAC-SHA1 signatures are verified for real (with oauthlib); data
endpoints also accept HTTP Basic auth with e-mail and password, as the real API
does.
"""

import base64
from collections.abc import Awaitable, Callable
from itertools import islice
import secrets
from typing import Any

from aiohttp import web
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from tests.simulator import clock_now
from tests.simulator.server import Abort, Handler, Server, json_text

from .appliances import QUARTER_MS, Missing, SimAppliance, activities, quarters
from .model import _MONTHS, _STEPS, MAX_READINGS, Fault, InexogyCloud, SimMeter, _Token

BASE_PATH = "/public/v1"

_ACCEPTABLE = {"*/*", "application/*", "text/*", "application/json", "text/plain"}


def _text(status: int, message: str, **headers: str) -> Abort:
    reason = web.Response(status=status).reason
    text = f"{status} {reason}: {message}"
    return Abort(
        web.Response(
            status=status, text=text, content_type="text/plain", headers=headers
        )
    )


def _form(**values: str) -> web.Response:  # values are hex tokens: nothing to escape
    body = "&".join(f"{k}={v}" for k, v in values.items())
    return web.Response(text=body, content_type="application/x-www-form-urlencoded")


class InexogySimulator(Server, InexogyCloud):
    """The fake cloud. Mutate meters, fault, meter_faults, ... freely from tests."""

    prefix = BASE_PATH

    def __init__(self, clock: Callable[[], float] = clock_now) -> None:
        Server.__init__(self, clock)
        InexogyCloud.__init__(self, clock)

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        oauth = f"{BASE_PATH}/oauth1"
        router.add_post(f"{oauth}/consumer_token", self._consumer_token)
        router.add_post(f"{oauth}/request_token", self._request_token)
        router.add_get(f"{oauth}/authorize", self._authorize)
        router.add_post(f"{oauth}/access_token", self._access_token)
        for name, build in (
            ("meters", self._meters),
            ("field_names", self._field_names),
            ("last_reading", self._last_reading),
            ("readings", self._readings),
            ("devices", self._devices),
            ("disaggregation", self._disaggregation),
            ("activities", self._activities),
        ):
            router.add_get(f"{BASE_PATH}/{name}", self._data_endpoint(build))

    async def _answer(
        self, request: web.Request, path: str, handler: Handler
    ) -> web.StreamResponse:
        if path.startswith("/oauth1/"):
            step = self.oauth_faults.get(path.removeprefix("/oauth1/"), Fault.NONE)
            if step is Fault.WRONG_SHAPE:  # no key, no token
                raise Abort(web.Response(text="{}", content_type="application/json"))
            await self._apply(step, lambda: False)
        return await handler(request)

    # ---- OAuth 1.0a --------------------------------------------------------------
    async def _verify(
        self, request: web.Request, tokens: dict[str, _Token] | None
    ) -> dict[str, str]:
        """Check an HMAC-SHA1 signed request; return its oauth_* parameters."""
        header = request.headers.get("Authorization", "")
        form = request.content_type == "application/x-www-form-urlencoded"
        try:
            params = oauth_signature.collect_parameters(
                uri_query=request.rel_url.raw_query_string,
                body=await request.text() if form else "",
                headers={"Authorization": header}
                if header[:6].lower() == "oauth "
                else None,
                exclude_oauth_signature=False,
            )
        except ValueError as err:
            raise _text(401, "Malformed OAuth parameters") from err
        oauth = {k: v for k, v in params if k.startswith("oauth_")}
        if len(oauth) != sum(1 for k, _ in params if k.startswith("oauth_")):
            raise _text(400, "Duplicate OAuth parameters")
        for name in ("consumer_key", "signature", "nonce", "timestamp"):
            if not oauth.get(f"oauth_{name}"):
                raise _text(401, f"Missing parameter: oauth_{name}")
        if oauth.get("oauth_signature_method") != "HMAC-SHA1":
            raise _text(401, "Unsupported signature method")
        if oauth.get("oauth_version", "1.0") != "1.0":
            raise _text(401, "Unsupported OAuth version")
        consumer = oauth["oauth_consumer_key"]
        if (consumer_secret := self._consumers.get(consumer)) is None:
            raise _text(401, "Unknown consumer key")
        token_secret = ""
        if tokens is not None:
            token = tokens.get(oauth.get("oauth_token", ""))
            if token is None or token.consumer != consumer:
                expired = tokens is self._access_tokens
                raise _text(
                    401, "token is no longer valid" if expired else "Invalid token"
                )
            token_secret = token.secret
        checked = OAuthRequest(str(request.url.with_query(None)), request.method)
        checked.params = [(k, v) for k, v in params if k != "oauth_signature"]
        checked.signature = oauth["oauth_signature"]
        if not oauth_signature.verify_hmac_sha1(checked, consumer_secret, token_secret):
            raise _text(401, "Invalid signature")
        nonce = (consumer, oauth["oauth_timestamp"], oauth["oauth_nonce"])
        if nonce in self._nonces:
            raise _text(401, "Nonce already used")
        self._nonces.add(nonce)
        return oauth

    async def _consumer_token(self, request: web.Request) -> web.Response:
        if not (client := str((await request.post()).get("client", ""))):
            raise _text(400, "Missing parameter: client")
        key, secret = secrets.token_hex(16), secrets.token_hex(16)
        self._consumers[key] = secret
        self.issued |= {key, secret}
        return web.json_response(
            {"key": key, "secret": secret, "owner": client, "attributes": {}}
            | {"principal": None}
        )

    async def _request_token(self, request: web.Request) -> web.Response:
        oauth = await self._verify(request, None)
        if "oauth_callback" not in oauth:
            raise _text(400, "Missing parameter: oauth_callback")
        key, token = (
            secrets.token_hex(16),
            _Token(secrets.token_hex(16), oauth["oauth_consumer_key"]),
        )
        self._request_tokens[key] = token
        self.issued |= {key, token.secret}
        return _form(
            oauth_token=key,
            oauth_token_secret=token.secret,
            oauth_callback_confirmed="true",
        )

    async def _authorize(self, request: web.Request) -> web.Response:
        query = request.query
        if (token := self._request_tokens.get(query.get("oauth_token", ""))) is None:
            raise _text(401, "Invalid token")
        if not self._password_ok(query.get("email", ""), query.get("password", "")):
            raise _text(403, "Invalid e-mail or password")
        token.verifier = secrets.token_hex(10)
        self.issued.add(token.verifier)
        return web.Response(text=f"oauth_verifier={token.verifier}")

    async def _access_token(self, request: web.Request) -> web.Response:
        oauth = await self._verify(request, self._request_tokens)
        token = self._request_tokens[oauth["oauth_token"]]
        verifier = oauth.get("oauth_verifier", "")
        if not token.verifier or not secrets.compare_digest(token.verifier, verifier):
            raise _text(401, "Invalid verifier")
        del self._request_tokens[oauth["oauth_token"]]
        key, access = (
            secrets.token_hex(16),
            _Token(secrets.token_hex(16), token.consumer),
        )
        self._access_tokens[key] = access
        self.issued |= {key, access.secret}
        return _form(oauth_token=key, oauth_token_secret=access.secret)

    # ---- data endpoints ----------------------------------------------------------
    async def _authenticate(self, request: web.Request) -> None:
        header = request.headers.get("Authorization", "")
        if header[:6].lower() == "basic ":
            try:
                credentials = base64.b64decode(header[6:], validate=True).decode()
            except ValueError as err:
                raise _text(401, "Invalid credentials") from err
            email, _, password = credentials.partition(":")
            if not self._password_ok(email, password):
                raise _text(401, "Invalid credentials")
        elif header or "oauth_signature" in request.query:
            await self._verify(request, self._access_tokens)
        else:
            raise _text(401, "Authorization required")

    async def _apply(self, fault: Fault, still: Callable[[], bool]) -> None:
        """Raise the response for ``fault``; TIMEOUT hangs until released, then 504."""
        if fault is Fault.REVOKED_TOKEN:
            raise _text(401, "token is no longer valid")
        if fault is Fault.RATE_LIMITED:
            retry = {"Retry-After": str(self.retry_after)}
            raise _text(429, "Rate limit exceeded", **retry)
        await self._answer_fault(fault, still)

    def _data_endpoint(
        self, build: Callable[[web.Request], Awaitable[tuple[Any, Fault]]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            accept = request.headers.get("Accept", "*/*").split(",")
            if not {a.split(";")[0].strip().lower() for a in accept} & _ACCEPTABLE:
                raise _text(406, "Accept must include application/json or text/plain")
            await self._apply(self.fault, lambda: self.fault is Fault.TIMEOUT)
            await self._authenticate(request)
            payload, fault = await build(request)
            non_finite = self.non_finite if fault is Fault.NON_FINITE else None
            text = json_text(payload, non_finite)
            if fault is Fault.MALFORMED_JSON:  # any proper prefix is invalid JSON
                text = text[: max(1, len(text) // 2)]
            return web.Response(text=text, content_type="application/json")

        return handler

    def _meter_of(self, request: web.Request) -> SimMeter:
        try:
            return self.meter(meter_id := request.query.get("meterId", ""))
        except KeyError:
            raise _text(400, f"Invalid meterId: {meter_id}") from None

    async def _meter_fault(self, meter: SimMeter) -> Fault:
        """Apply the meter's own fault; return the fault that shapes the payload."""
        mid = meter.meter_id
        fault = self.meter_faults.get(mid, Fault.NONE)
        if fault is Fault.REFUSED:
            raise _text(400, f"Invalid meterId: {meter.data.get('fullSerialNumber')}")
        await self._apply(fault, lambda: self.meter_faults.get(mid) is Fault.TIMEOUT)
        return self.fault if self.fault is not Fault.NONE else fault

    async def _meters(self, request: web.Request) -> tuple[Any, Fault]:
        if self.list_fault is Fault.EMPTY_LIST:
            return [], self.fault
        await self._apply(self.list_fault, lambda: False)
        return self.meter_list(), self.fault

    async def _field_names(self, request: web.Request) -> tuple[Any, Fault]:
        return self.field_names(self._meter_of(request)), self.fault

    async def _last_reading(self, request: web.Request) -> tuple[Any, Fault]:
        meter = self._meter_of(request)
        fault = await self._meter_fault(meter)
        now = self.now_ms()
        if not meter.active:
            if self.inactive_reads_empty:
                return {"time": now, "values": {}}, fault
            raise _text(400, f"No readings available for meterId: {meter.meter_id}")
        stamp = now + 86_400_000 if fault is Fault.AHEAD else now
        return self.reading(meter, now, _wanted(request), fault, stamp), fault

    async def _readings(self, request: web.Request) -> tuple[Any, Fault]:
        if self.readings_left is not None:
            if self.readings_left <= 0:
                await self._apply(Fault.TIMEOUT, lambda: True)
            self.readings_left -= 1
        meter = self._meter_of(request)
        fault = await self._meter_fault(meter)
        now, query = self.now_ms(), request.query
        if "from" not in query:
            raise _text(400, "Missing parameter: from")
        try:
            start, end = int(query["from"]), int(query.get("to", now))
        except ValueError:
            raise _text(400, "Invalid parameter: from/to must be epoch ms") from None
        if (resolution := query.get("resolution", "raw")) not in _STEPS | _MONTHS:
            raise _text(400, f"Invalid resolution: {resolution}")
        if start > end:
            raise _text(400, "Invalid time range: from is after to")
        if not meter.active:
            return [], fault
        start = max(start, meter.first_ms)
        grid = self.boundaries(resolution, start, min(end, now))
        if len(times := list(islice(grid, MAX_READINGS + 1))) > MAX_READINGS:
            raise _text(400, "Too many values requested")
        times = self.window.answered(times, end, now, 1000)
        wanted = _wanted(request)
        return [self.reading(meter, t, wanted, fault) for t in times], fault

    # ---- appliances (disaggregation) ---------------------------------------------
    async def _appliance_meter(
        self, request: web.Request, empty: Any
    ) -> tuple[list[SimAppliance], Fault]:
        """The meter's appliances and the fault that shapes the answer.

        Raises what a meter without disaggregation answers.
        """
        fault = self.appliance_fault
        await self._apply(fault, lambda: self.appliance_fault is Fault.TIMEOUT)
        meter = self._meter_of(request)
        fault = await self._meter_fault(meter) if fault is Fault.NONE else fault
        if appliances := self.appliances.get(meter.meter_id):
            return appliances, fault
        if self.missing_appliances is Missing.NOT_FOUND:
            raise _text(404, f"No disaggregation for meterId: {meter.meter_id}")
        if self.missing_appliances is Missing.REFUSED:
            raise _text(400, "Disaggregation is not available for this meter")
        raise Abort(web.json_response(empty))

    def _range(self, request: web.Request) -> tuple[int, int]:
        """The request's from and to in epoch ms, `to` made inclusive."""
        try:
            start = int(request.query["from"])
            end = int(request.query.get("to", self.now_ms()))
        except KeyError, ValueError:
            raise _text(400, "Invalid parameter: from/to must be epoch ms") from None
        if start > end:
            raise _text(400, "Invalid time range: from is after to")
        return start, end - 1 if self.appliance_to_exclusive else end

    def _shaped(self, payload: Any, fault: Fault) -> tuple[Any, Fault]:
        return (self.wrong_shape if fault is Fault.WRONG_SHAPE else payload), fault

    async def _devices(self, request: web.Request) -> tuple[Any, Fault]:
        appliances, fault = await self._appliance_meter(request, [])
        return self._shaped([a.name for a in appliances], fault)

    async def _disaggregation(self, request: web.Request) -> tuple[Any, Fault]:
        appliances, fault = await self._appliance_meter(request, {})
        start, end = self._range(request)
        # A quarter is published once it has ended, hours late if so set.
        end = min(end, self.published_ms() - QUARTER_MS)
        german = self.german_appliances
        return self._shaped(quarters(appliances, start, end, german), fault)

    async def _activities(self, request: web.Request) -> tuple[Any, Fault]:
        appliances, fault = await self._appliance_meter(request, [])
        start, end = self._range(request)
        runs = activities(appliances, start, end, self.published_ms())
        return self._shaped(runs, fault)


def _wanted(request: web.Request) -> list[str]:
    """Return the fields a reading is asked for (none: all of them)."""
    return [f for f in request.query.get("fields", "").split(",") if f]
