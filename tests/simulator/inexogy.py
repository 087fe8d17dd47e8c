"""A faithful fake of the inexogy (formerly Discovergy) cloud API as an aiohttp app.

OAuth 1.0a HMAC-SHA1 signatures are verified for real (with oauthlib); data
endpoints also accept HTTP Basic auth with e-mail and password, as the real API
does. Every value is a pure function of the injected clock, so /last_reading
and /readings agree. Faults (outages, rate limits, revoked tokens, timeouts,
broken JSON, all-zero totals, NaN and the like, readings of the wrong shape,
HTML or nothing with 200, refusals quoting a serial) can be switched on
globally or per meter, and for each step of the authorization.

Dev server: ``python -m tests.simulator.inexogy [--host H] [--port P] [--state FILE]``
(``--state`` keeps issued tokens across restarts; tests keep them in memory).
"""

import argparse
import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterator
import contextlib
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from itertools import islice
import json
import math
from pathlib import Path
import secrets
import signal
import time
from typing import Any

from aiohttp import web
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth1.rfc5849 import signature as oauth_signature

from tests.simulator import Answer, HistoryWindow

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"
BASE_PATH = "/public/v1"

ELECTRICITY_METER_ID = "c1a8f3e0b6d24c7f9e2a4b6c8d0e1f23"
ALIAS_METER_ID = "5e7d2c4b8a9f40e1b3c6d8e0f2a4b6c8"
GAS_METER_ID = "0b4e6a8c2d1f43a5b7c9e1d3f5a7b9c0"
WATER_METER_ID = "9f1e3d5c7b2a4e6d8c0b1a3f5e7d9c2b"
INACTIVE_METER_ID = "d2c4e6f8a0b1c3d5e7f9a1b3c5d7e9f0"

MAX_READINGS = 10_000
FIRST_MEASUREMENT_MS = 1_650_000_000_000  # 2022-04-15
_DAY_MS = 86_400_000
# resolution -> (step, offset) in ms; weeks start on Monday (epoch day 4)
_STEPS = {
    "raw": (10_000, 0),
    "three_minutes": (180_000, 0),
    "fifteen_minutes": (900_000, 0),
    "one_hour": (3_600_000, 0),
    "one_day": (_DAY_MS, 0),
    "one_week": (7 * _DAY_MS, 4 * _DAY_MS),
}
_MONTHS = {"one_month": 1, "one_year": 12}
_ACCEPTABLE = {"*/*", "application/*", "text/*", "application/json", "text/plain"}
# Stands for a total in the payload until the text replaces it with a
# number JSON cannot have.
_NON_FINITE_MARK = "\u0000non-finite"
_PORTAL = (
    "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>\n"
    "<body><h1>We are back soon</h1></body></html>\n"
)
_NGINX = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1>"
    "</center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)


class Fault(StrEnum):
    """Failure modes; see InexogySimulator.fault and .meter_faults."""

    NONE = "none"
    REVOKED_TOKEN = "revoked_token"
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    MALFORMED_JSON = "malformed_json"
    ALL_ZERO_TOTALS = "all_zero_totals"
    EMPTY_LIST = "empty_list"  # /meters answers [] (for the meter list alone)
    SPIKE = "spike"  # totals 1e20 times too high
    AHEAD = "ahead"  # /last_reading stamped a day ahead of the clock
    # Totals written as `non_finite` (NaN, Infinity, 1e400): Python's json
    # writes and reads such numbers, JSON has none.
    NON_FINITE = "non_finite"
    # Readings carry `wrong_shape` over their own keys: a time of 1e20,
    # values that are null or a list... An authorization step answers {}.
    WRONG_SHAPE = "wrong_shape"
    # 200 OK with a page of HTML (a captive portal, a maintenance page), or
    # with nothing at all: something else than the API answered.
    HTML_PAGE = "html_page"
    EMPTY_ANSWER = "empty_answer"
    # A meter's readings refused with 400, quoting its serial number as the
    # API's documentation shows: "Invalid meterId: 1ESY1161229886".
    REFUSED = "refused"


@dataclass(frozen=True)
class Total:
    """A monotonic register: ``start`` at firstMeasurementTime, + ``per_hour``."""

    start: int
    per_hour: int

    def at(self, ms: int, first_ms: int) -> int:
        return self.start + self.per_hour * max(0, ms - first_ms) // 3_600_000


@dataclass(frozen=True)
class Wave:
    """A gauge: mean + sine (``phase`` in periods) + a fast 97 s ripple."""

    mean: int
    amplitude: int = 0
    phase: float = 0.0
    ripple: int = 0
    period_s: int = 86_400

    def at(self, ms: int, first_ms: int) -> int:
        slow = math.sin(2 * math.pi * (ms / 1000 / self.period_s + self.phase))
        fast = math.sin(2 * math.pi * ms / 97_000)
        return self.mean + round(self.amplitude * slow + self.ripple * fast)


@dataclass(frozen=True)
class Sum:
    """A field that is the sum of other (non-Sum) fields of the same meter."""

    parts: tuple[str, ...]


type FieldSpec = Total | Wave | Sum


@dataclass
class SimMeter:
    """The API meter JSON plus how its values evolve (in the API's field order)."""

    data: dict[str, Any]  # the meter object as /meters lists it
    fields: dict[str, FieldSpec] = field(default_factory=dict)
    late_fields: dict[str, FieldSpec] = field(default_factory=dict)

    @property
    def meter_id(self) -> str:
        return str(self.data.get("meterId", ""))

    @property
    def first_ms(self) -> int:
        """Return firstMeasurementTime (-1: inactive)."""
        return int(self.data.get("firstMeasurementTime", -1))

    @property
    def active(self) -> bool:
        return self.first_ms >= 0

    def specs(self, late_visible: bool) -> dict[str, FieldSpec]:
        return self.fields | (self.late_fields if late_visible else {})

    def values_at(self, ms: int, late_visible: bool) -> dict[str, int]:
        """Raw API values at epoch ``ms`` (a pure function of time)."""
        specs, first = self.specs(late_visible), self.first_ms
        plain = {n: s.at(ms, first) for n, s in specs.items() if not isinstance(s, Sum)}
        return {
            n: sum(plain[p] for p in s.parts) if isinstance(s, Sum) else plain[n]
            for n, s in specs.items()
        }


def _meter_info(meter_id: str, model: str, address: str) -> dict[str, Any]:
    """Build meter JSON from "MANUFACTURER SERIAL TYPE MEASUREMENT" and an address."""
    manufacturer, serial, meter_type, measurement, *inactive = model.split()
    street_number, zip_city = address.split(", ")
    street, number = street_number.rsplit(" ", 1)
    zip_code, city = zip_city.split(" ", 1)
    first = -1 if inactive else FIRST_MEASUREMENT_MS
    location = {"street": street, "streetNumber": number, "zip": zip_code}
    return {
        "meterId": meter_id,
        "manufacturerId": manufacturer,
        "serialNumber": serial,
        "fullSerialNumber": f"1{manufacturer}11{serial}",
        "printedFullSerialNumber": f"1 {manufacturer}11 {serial[:4]} {serial[4:]}",
        "location": location | {"city": city, "country": "DE"},
        "administrationNumber": f"A{serial}",
        "meteringLocationNumber": f"DE0001{serial}{0:019d}",
        "type": meter_type,
        "measurementType": measurement,
        "loadProfileType": "SLP",
        "scalingFactor": 1,
        "currentScalingFactor": 1,
        "voltageScalingFactor": 1,
        "internalMeters": 1,
        "firstMeasurementTime": first,
        "lastMeasurementTime": first,
    }


def demo_meters() -> list[SimMeter]:
    """Return fresh copies of the five demo meters."""
    p123 = (1, 2, 3)
    electricity = SimMeter(  # two-way: exports around midday UTC, imports at night
        _meter_info(
            ELECTRICITY_METER_ID,
            "ESY 60123456 EASYMETER ELECTRICITY",
            "Musterweg 7, 01067 Dresden",
        ),
        {
            "energy": Sum(("energy1", "energy2")),
            "energy1": Total(12_254_180_000_000, 500_000_000),  # kWh * 1e10
            "energy2": Total(19_346_445_534_000, 2_500_000_000),
            "energyOut": Total(5_504_872_304_400, 1_500_000_000),
            "energyOut1": Total(0, 0),  # empty tariff registers, as real EasyMeters
            "energyOut2": Total(0, 0),
            "power": Sum(("power1", "power2", "power3")),
            **{
                f"power{i}": Wave(100_000 + 5_000 * i, 250_000, 0.25, 4_000)
                for i in p123
            },
            **{f"voltage{i}": Wave(230_000, 1_500, i / 3, 300, 3_600) for i in p123},
            **{f"phase{i}Current": Wave(1_000 + 30 * i, 550, 0.25, 40) for i in p123},
        },
        late_fields={"frequency": Wave(50_000, 30, 0.0, 5, 600)},
    )
    alias = SimMeter(
        _meter_info(
            ALIAS_METER_ID,
            "ESY 61234567 ESY ELECTRICITY",
            "Hauptstraße 12, 04109 Leipzig",
        ),
        {
            "energy": Total(31_415_926_535_897, 3_000_000_000),
            "energyOut": Total(120_000_000_000, 10_000_000),
            "power": Sum(("phase1Power", "phase2Power", "phase3Power")),
            **{f"phase{i}Power": Wave(180_000, 120_000, i / 3, 3_000) for i in p123},
        },
    )
    gas_info = _meter_info(
        GAS_METER_ID, "ELS 70345678 ELSTER GAS", "Gasweg 3, 09111 Chemnitz"
    )
    water_info = _meter_info(
        WATER_METER_ID, "SEN 80456789 WATER WATER", "Bach 1, 06108 Halle"
    )
    inactive_info = _meter_info(
        INACTIVE_METER_ID,
        "ESY 62345678 EASYMETER ELECTRICITY inactive",
        "Neubaugebiet 4, 02625 Bautzen",
    )
    return [
        electricity,
        alias,
        SimMeter(gas_info, {"volume": Total(4_321_123, 125)}),  # m³ * 1e3
        SimMeter(water_info, {"volume": Total(812_345, 6)}),
        SimMeter(inactive_info, {"energy": Total(0, 0), "power": Wave(0)}),
    ]


class _Abort(Exception):
    """Raised inside handlers to answer with a prepared response."""

    def __init__(
        self, status: int, text: str, content_type: str, **headers: str
    ) -> None:
        super().__init__(status)
        self.response = web.Response(
            status=status, text=text, content_type=content_type, headers=headers
        )


def _text(status: int, message: str, **headers: str) -> _Abort:
    reason = web.Response(status=status).reason
    return _Abort(status, f"{status} {reason}: {message}", "text/plain", **headers)


def _html(status: int) -> _Abort:
    title = f"{status} {web.Response(status=status).reason}"
    return _Abort(status, _NGINX.format(title), "text/html")


def _form(**values: str) -> web.Response:  # values are hex tokens: nothing to escape
    body = "&".join(f"{k}={v}" for k, v in values.items())
    return web.Response(text=body, content_type="application/x-www-form-urlencoded")


def _clock_now() -> float:
    return time.time()  # looked up per call, so freezegun's patched time is honoured


@dataclass
class _Token:
    secret: str
    consumer: str
    verifier: str | None = None


class _FaultMap(dict[str, Fault]):
    """meter_faults: wakes hanging TIMEOUT handlers whenever it changes."""

    def __init__(self, on_change: Callable[[], None], data: dict[str, Fault]) -> None:
        super().__init__(data)
        self._on_change = on_change

    def __setitem__(self, key: str, value: Fault) -> None:
        super().__setitem__(key, value)
        self._on_change()

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self._on_change()

    def clear(self) -> None:
        super().clear()
        self._on_change()


class InexogySimulator:
    """The fake cloud. Mutate meters, fault, meter_faults, ... freely from tests."""

    def __init__(self, clock: Callable[[], float] = _clock_now) -> None:
        self.clock = clock
        self.meters: list[SimMeter] = demo_meters()
        self.accounts: dict[str, str] = {DEMO_EMAIL: DEMO_PASSWORD}
        # Retry-After of a 429: seconds, or an HTTP date as text.
        self.retry_after: float | str = 60
        # What Fault.NON_FINITE writes for each total: NaN, Infinity, 1e400...
        self.non_finite = "NaN"
        # What Fault.WRONG_SHAPE puts over each reading's keys.
        self.wrong_shape: dict[str, Any] = {"values": None}
        # Faults of the authorization's steps, by the step's name:
        # consumer_token, request_token, authorize, access_token.
        self.oauth_faults: dict[str, Fault] = {}
        self.late_fields_visible = False
        # What /last_reading answers for a meter that never measured is not
        # documented: 400 by default; an empty reading when this is True.
        self.inactive_reads_empty = False
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # Every answer, in order, with the clock's time: to count and time faults.
        self.answers: list[Answer] = []
        # Every key, secret, token and verifier handed out, revoked ones too.
        self.issued: set[str] = set()
        # Answer this many more /readings requests, then hang (as TIMEOUT does)
        # until stopped: a history download cut off in the middle.
        self.readings_left: int | None = None
        # A fault of the meter list alone (not TIMEOUT), the readings unharmed.
        self.list_fault = Fault.NONE
        # Where /readings ends: `to` inclusive or not, the newest hour late.
        self.window = HistoryWindow()
        self._arrived = asyncio.Event()
        self._fault = Fault.NONE
        self._meter_faults = _FaultMap(self._wake, {})
        self._consumers: dict[str, str] = {}
        self._request_tokens: dict[str, _Token] = {}
        self._access_tokens: dict[str, _Token] = {}
        self._nonces: set[tuple[str, str, str]] = set()
        self._release = asyncio.Event()
        self._stopping = False
        self._runner: web.AppRunner | None = None

    @property
    def fault(self) -> Fault:
        """Fault for every data endpoint (not /oauth1/*)."""
        return self._fault

    @fault.setter
    def fault(self, value: Fault) -> None:
        self._fault = Fault(value)
        self._wake()

    @property
    def meter_faults(self) -> dict[str, Fault]:
        """Faults per meterId, for /last_reading and /readings of that meter."""
        return self._meter_faults

    @meter_faults.setter
    def meter_faults(self, value: dict[str, Fault]) -> None:
        self._meter_faults = _FaultMap(self._wake, value)
        self._wake()

    def request_count(self, path: str) -> int:
        """Count requests for ``path`` ("/meters", "meters" or "/public/v1/meters")."""
        path = "/" + path.removeprefix(BASE_PATH).lstrip("/")
        return sum(1 for _, p, _ in self.requests if p == path)

    async def wait_for_requests(self, path: str, count: int) -> None:
        """Wait until ``count`` requests for ``path`` have arrived."""
        while self.request_count(path) < count:
            await self._arrived.wait()
            self._arrived.clear()

    def revoke_tokens(self) -> None:
        """Invalidate every issued access token (data endpoints answer 401)."""
        self._access_tokens.clear()

    def secrets(self) -> set[str]:
        """Every credential and personal detail this cloud holds or handed out."""
        found = self.issued | set(self.accounts) | set(self.accounts.values())
        for meter in self.meters:
            data, place = meter.data, meter.data.get("location", {})
            found |= {
                str(data.get(key, ""))
                for key in (
                    "serialNumber",
                    "fullSerialNumber",
                    "printedFullSerialNumber",
                    "administrationNumber",
                    "meteringLocationNumber",
                )
            }
            found |= {
                str(place.get("street", "")),
                f"{place.get('street')} {place.get('streetNumber')}",
                f"{place.get('zip')} {place.get('city')}",
            }
        return found - {""}

    def now_ms(self) -> int:
        """Return the clock's now in epoch ms, rounded down to the second."""
        return int(self.clock()) * 1000

    def meter(self, meter_id: str) -> SimMeter:
        """Return the meter with this id (KeyError if unknown)."""
        for meter in self.meters:
            if meter_id and meter.meter_id == meter_id:
                return meter
        raise KeyError(meter_id)

    def last_reading(self, meter_id: str) -> dict[str, Any]:
        """Return what /last_reading answers now, ignoring faults (raw API ints)."""
        meter, now = self.meter(meter_id), self.now_ms()
        if not meter.active:
            raise ValueError(f"meter {meter_id} is inactive")
        return {"time": now, "values": meter.values_at(now, self.late_fields_visible)}

    def app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(middlewares=[self._middleware])
        oauth = f"{BASE_PATH}/oauth1"
        app.router.add_post(f"{oauth}/consumer_token", self._consumer_token)
        app.router.add_post(f"{oauth}/request_token", self._request_token)
        app.router.add_get(f"{oauth}/authorize", self._authorize)
        app.router.add_post(f"{oauth}/access_token", self._access_token)
        for name, build in (
            ("meters", self._meters),
            ("field_names", self._field_names),
            ("last_reading", self._last_reading),
            ("readings", self._readings),
        ):
            app.router.add_get(f"{BASE_PATH}/{name}", self._data_endpoint(build))
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); return the base URL."""
        self._stopping = False
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        bound_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        return f"http://{bound_host}:{bound_port}{BASE_PATH}"

    async def stop(self) -> None:
        """Release hanging TIMEOUT handlers, then shut the server down."""
        self._stopping = True
        self._wake()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _wake(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        path = request.path
        if path.startswith(f"{BASE_PATH}/"):
            path = path.removeprefix(BASE_PATH)
        self.requests.append((request.method, path, dict(request.query)))
        self._arrived.set()
        try:
            if path.startswith("/oauth1/"):
                step = self.oauth_faults.get(path.removeprefix("/oauth1/"), Fault.NONE)
                if step is Fault.WRONG_SHAPE:  # no key, no token
                    raise _Abort(200, "{}", "application/json")
                await self._apply(step, lambda: False)
            response = await handler(request)
        except _Abort as err:
            response = err.response
        except asyncio.CancelledError:  # the client gave up waiting
            self.answers.append(Answer(self.clock(), request.method, path, 499))
            raise
        self.answers.append(Answer(self.clock(), request.method, path, response.status))
        return response

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

    def _password_ok(self, email: str, password: str) -> bool:
        accounts = {e.lower(): p for e, p in self.accounts.items()}
        expected = accounts.get(email.strip().lower())
        return expected is not None and secrets.compare_digest(expected, password)

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
        if fault is Fault.SERVER_ERROR:
            raise _html(502)
        if fault is Fault.HTML_PAGE:
            raise _Abort(200, _PORTAL, "text/html")
        if fault is Fault.EMPTY_ANSWER:
            raise _Abort(200, "", "application/json")
        if fault is Fault.TIMEOUT:
            while still() and not self._stopping:
                await self._release.wait()
            raise _html(504)

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
            text = json.dumps(payload, separators=(",", ":"))
            if fault is Fault.MALFORMED_JSON:  # any proper prefix is invalid JSON
                text = text[: max(1, len(text) // 2)]
            if fault is Fault.NON_FINITE:
                text = text.replace(json.dumps(_NON_FINITE_MARK), self.non_finite)
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

    def _values(
        self, meter: SimMeter, ms: int, request: web.Request, fault: Fault
    ) -> dict[str, int | str]:
        values: dict[str, int | str] = {**meter.values_at(ms, self.late_fields_visible)}
        if wanted := [f for f in request.query.get("fields", "").split(",") if f]:
            values = {k: v for k, v in values.items() if k in wanted}  # ignore unknown
        totals = [k for k in values if k.startswith(("energy", "volume"))]
        if fault is Fault.ALL_ZERO_TOTALS:
            values |= dict.fromkeys(totals, 0)
        if fault is Fault.SPIKE:
            values |= {
                k: v * 10**20
                for k, v in values.items()
                if k.startswith("energy") and isinstance(v, int)
            }
        if fault is Fault.NON_FINITE:
            values |= dict.fromkeys(totals, _NON_FINITE_MARK)
        return values

    async def _meters(self, request: web.Request) -> tuple[Any, Fault]:
        if self.list_fault is Fault.EMPTY_LIST:
            return [], self.fault
        await self._apply(self.list_fault, lambda: False)
        now = self.now_ms()
        return [
            m.data | {"lastMeasurementTime": now if m.active else -1}
            for m in self.meters
        ], self.fault

    async def _field_names(self, request: web.Request) -> tuple[Any, Fault]:
        meter = self._meter_of(request)
        names = list(meter.specs(self.late_fields_visible)) if meter.active else []
        return names, self.fault

    async def _last_reading(self, request: web.Request) -> tuple[Any, Fault]:
        meter = self._meter_of(request)
        fault = await self._meter_fault(meter)
        now = self.now_ms()
        if not meter.active:
            if self.inactive_reads_empty:
                return {"time": now, "values": {}}, fault
            raise _text(400, f"No readings available for meterId: {meter.meter_id}")
        stamp = now + 86_400_000 if fault is Fault.AHEAD else now
        reading = {"time": stamp, "values": self._values(meter, now, request, fault)}
        return self._shaped(reading, fault), fault

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
        return [
            self._shaped(
                {"time": t, "values": self._values(meter, t, request, fault)}, fault
            )
            for t in times
        ], fault

    def _shaped(self, reading: dict[str, Any], fault: Fault) -> dict[str, Any]:
        return reading | self.wrong_shape if fault is Fault.WRONG_SHAPE else reading

    @staticmethod
    def boundaries(resolution: str, start: int, end: int) -> Iterator[int]:
        """Yield the epoch-ms grid points (UTC) of ``resolution`` in [start, end]."""
        if resolution in _STEPS:
            step, offset = _STEPS[resolution]
            yield from range(start + (offset - start) % step, end + 1, step)
            return
        months = _MONTHS[resolution]
        moment = datetime.fromtimestamp(start // 1000, UTC)
        year, month = moment.year, 1 if months == 12 else moment.month
        while (
            ms := int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000
        ) <= end:
            if ms >= start:
                yield ms
            year, month = (
                year + (month + months - 1) // 12,
                (month + months - 1) % 12 + 1,
            )


class _SavedStateSimulator(InexogySimulator):
    """The dev server's simulator: issued consumers and access tokens persist.

    Kept in a JSON file (written after every issue), so a client that stored
    its OAuth credentials stays signed in across restarts of the server.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.state_path = path
        with contextlib.suppress(FileNotFoundError):
            state = json.loads(path.read_text(encoding="utf-8"))
            self._consumers.update(state.get("consumers", {}))
            self._access_tokens.update(
                {k: _Token(**v) for k, v in state.get("access_tokens", {}).items()}
            )

    def _save(self) -> None:
        state = {
            "consumers": self._consumers,
            "access_tokens": {k: asdict(v) for k, v in self._access_tokens.items()},
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_path.with_name(self.state_path.name + ".partial")
        partial.write_text(json.dumps(state, indent=1), encoding="utf-8")
        partial.replace(self.state_path)

    async def _consumer_token(self, request: web.Request) -> web.Response:
        response = await super()._consumer_token(request)
        self._save()
        return response

    async def _access_token(self, request: web.Request) -> web.Response:
        response = await super()._access_token(request)
        self._save()
        return response


async def _serve(host: str, port: int, state: Path | None = None) -> None:
    sim = InexogySimulator() if state is None else _SavedStateSimulator(state)
    url = await sim.start(host, port)
    print(f"inexogy simulator on {url}", flush=True)
    if state is not None:
        print(f"  issued tokens are kept in {state}")
    print(f"  e-mail:   {DEMO_EMAIL}\n  password: {DEMO_PASSWORD}\n  Ctrl-C stops.")
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    try:
        await stop.wait()
    finally:
        await sim.stop()
    print("inexogy simulator stopped", flush=True)


def main() -> None:
    """Serve the simulator with the real clock until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description="Serve the fake inexogy cloud.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8780)
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="keep issued consumer and access tokens in this JSON file, so "
        "clients stay signed in across restarts (default: in memory only)",
    )
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.state))


if __name__ == "__main__":
    main()
