"""A faithful fake of Kamstrup READY API Access as an aiohttp app.

It follows the contract in ``docs/ready-api-contract.md``: OAuth2 client
credentials (Azure AD style token endpoint on the same host), the REST paths
under ``/api/v1``, webhook subscriptions confirmed by an HMAC-SHA256
verification handshake, and signed data and status pushes. Every register value
is a pure function of the injected clock (totals are exact integrals of their
rates, so they never decrease); a meter's infoCode and sensor fault are state
set by tests. Faults (rate limits, outages, hanging requests, rejected client
credentials, NaN and the like, HTML or nothing with 200, refusals quoting
serials) can be switched on globally, and for the token endpoint; a meter's
answered readings can be given a wrong shape or malformed registers.

The verification POST is deliberately NOT signed (the contract only promises a
signature on data and status requests): a receiver must answer it by the hash
alone. Data and status POSTs carry ``X-Ready-Signature``.

Dev server: ``python -m tests.simulator.ready [--host H] [--port P] [--meters N]
[--push-every S]``.
"""

import argparse
import asyncio
import base64
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
import contextlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
import hashlib
import hmac
import json
import logging
import math
import secrets
import signal
import time
from typing import Any
from urllib.parse import urlsplit
import uuid

import aiohttp
from aiohttp import web

from tests.simulator import Answer, HistoryWindow

_LOGGER = logging.getLogger(__name__)

DEMO_TENANT_ID = "3f0c7a52-6d1e-4b8a-9c2f-7e5d1a0b9c84"
DEMO_CLIENT_ID = "5b8e2d14-0a7c-4f3e-b1d6-9a2c8e4f7b30"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_API_KEY = "U4pjN5MroZORb+t7ovNAWu+7l+eCWGhmogrltfuaXZ0="

WATER_METER_ID = "d1251141-6b54-45ab-af4f-5e56ef8fbe13"
HEAT_METER_ID = "dc08795d-0521-4bdd-b209-bccc85bad702"
HEAT_GJ_METER_ID = "4b3efbd2-b4f7-4c6f-a112-a2c5144b0511"
COOLING_METER_ID = "938ed7a0-3572-4949-8949-021915c902ca"
ELECTRICITY_METER_ID = "b41283c1-8473-42ef-a12a-a73157ec87b6"

API_PATH = "/api/v1"
SUBSCRIPTIONS_PATH = f"{API_PATH}/webhooks/subscriptions"
SIGNATURE_HEADER = "X-Ready-Signature"
MAX_PAGE_SIZE = 100
MAX_LATEST_IDS = 100
MAX_READINGS = 10_000  # per history request and per pushed batch
MIN_METERS, MAX_METERS = 3, 5000
RESOURCES = ("MeterReadings", "Alarms")
LEAK = 4  # water meter infoCode bit 2

_HOUR = 3600
_DAY = 86_400
_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: totals equal their start here
_RESOLUTIONS = {"hour": _HOUR, "day": _DAY}
_NAMESPACE = uuid.UUID("702e945c-f85b-4b57-9ed4-0e4891eb9d56")
_GATEWAY = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1>"
    "</center>\r\n<hr><center>Microsoft-Azure-Application-Gateway/v2</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_TOTALS = frozenset({"Volume", "HeatEnergy", "CoolingEnergy", "Energy", "EnergyExport"})
# Stands for a total until the text replaces it with a number JSON cannot have.
_NON_FINITE_MARK = "\u0000non-finite"
_PORTAL = (
    "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>\n"
    "<body><h1>We are back soon</h1></body></html>\n"
)
_PROBLEM_TYPES = {
    400: "https://tools.ietf.org/html/rfc9110#section-15.5.1",
    401: "https://tools.ietf.org/html/rfc9110#section-15.5.2",
    404: "https://tools.ietf.org/html/rfc9110#section-15.5.5",
    405: "https://tools.ietf.org/html/rfc9110#section-15.5.6",
    429: "https://tools.ietf.org/html/rfc6585#section-4",
}


class Fault(StrEnum):
    """Failure modes; see ReadySimulator.fault."""

    NONE = "none"
    # 429 + Retry-After: problem JSON for /api/v1/*, an OAuth error for the
    # token endpoint (as `token_fault`).
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"  # /api/v1/*: 503 HTML page
    TIMEOUT = "timeout"  # /api/v1/*: hang until the fault changes or stop(), 504
    INVALID_CLIENT = "invalid_client"  # token endpoint: 401 invalid_client
    # Readings (latest, history): totals written as `non_finite` (NaN,
    # Infinity, 1e400), which Python's json writes and reads and JSON has not.
    NON_FINITE = "non_finite"
    # 200 OK with a page of HTML (a captive portal, a maintenance page), or
    # with nothing at all: something else than the API answered. For
    # /api/v1/* as `fault`, for the token endpoint as `token_fault`.
    HTML_PAGE = "html_page"
    EMPTY_ANSWER = "empty_answer"
    # Readings (latest, history) refused with 400, naming the meters' serials.
    REFUSED = "refused"
    # Only as `token_fault`: a token whose lifetime is no number.
    WRONG_SHAPE = "wrong_shape"


# ---- register values: pure functions of epoch seconds -----------------------------
def _peak(hour: float) -> float:
    """Return the Wave phase that puts a daily wave's maximum at ``hour`` UTC."""
    return 0.25 - hour / 24


@dataclass(frozen=True)
class Wave:
    """A gauge: ``mean + amplitude * sin(2π (t / period + phase))``."""

    mean: float
    amplitude: float = 0.0
    phase: float = 0.0
    period: float = _DAY

    def at(self, t: float) -> float:
        return self.mean + self.amplitude * math.sin(
            2 * math.pi * (t / self.period + self.phase)
        )


@dataclass(frozen=True)
class Integral:
    """A total: ``start`` at 2024-01-01 + ``scale`` * ∫ rate (per hour) dt.

    Monotonic (never decreasing) as long as ``rate.amplitude <= rate.mean``.
    """

    start: float
    rate: Wave
    scale: float = 1.0

    def at(self, t: float) -> float:
        r = self.rate
        w = 2 * math.pi / r.period
        wave = (
            r.amplitude
            / (w * _HOUR)
            * (
                math.cos(w * _EPOCH + 2 * math.pi * r.phase)
                - math.cos(w * t + 2 * math.pi * r.phase)
            )
        )
        return self.start + self.scale * (r.mean * (t - _EPOCH) / _HOUR + wave)


@dataclass(frozen=True)
class Hours:
    """An operating hour counter started at epoch second ``since``."""

    since: int

    def at(self, t: float) -> float:
        return max(0, int(t - self.since) // _HOUR)


type Spec = Wave | Integral | Hours


@dataclass(frozen=True)
class Register:
    """One register of a meter: name and unit as the API sends them."""

    name: str
    unit: str
    spec: Spec
    decimals: int

    def value(self, t: float) -> float:
        """Return the rounded value at epoch second ``t`` (an int if 0 decimals)."""
        value = self.spec.at(t)
        return round(value) if self.decimals == 0 else round(value, self.decimals)


_SENSOR_FAULT_ZEROED = ("Flow", "Power")
_SENSOR_FAULT_TEMPERATURES = ("ForwardTemperature", "ReturnTemperature")


@dataclass
class ReadyMeter:
    """A meter as /api/v1/meters lists it, plus how its registers evolve."""

    meter_id: str
    serial_number: str
    meter_type: str  # Water | Heat | Cooling | HeatCooling | Electricity
    model: str
    address: str
    customer_number: str
    registers: tuple[Register, ...]
    info_code: int = 0  # current alarm bits, carried by every reading
    sensor_fault: float | None = None  # temperature reported while in sensor fault
    # Fields a utility's records may carry beyond the contract's.
    extra: dict[str, Any] = field(default_factory=dict)

    def info(self) -> dict[str, Any]:
        """Return the Meter JSON."""
        return self.extra | {
            "meterId": self.meter_id,
            "serialNumber": self.serial_number,
            "meterType": self.meter_type,
            "model": self.model,
            "installation": {
                "address": self.address,
                "customerNumber": self.customer_number,
            },
        }

    def reading(self, t: int) -> dict[str, Any]:
        """Return the Reading JSON at epoch second ``t``."""
        registers = []
        for reg in self.registers:
            value = reg.value(t)
            if self.sensor_fault is not None:
                if reg.name in _SENSOR_FAULT_TEMPERATURES:
                    value = round(self.sensor_fault, 2)
                elif reg.name in _SENSOR_FAULT_ZEROED:
                    value = 0 if reg.decimals == 0 else 0.0
            registers.append({"register": reg.name, "value": value, "unit": reg.unit})
        return {
            "meterId": self.meter_id,
            "timestamp": _iso(t),
            "registers": registers,
            "infoCode": self.info_code,
        }


def _water_registers(
    volume: float, flow: Wave, water: Wave, ambient: Wave
) -> tuple[Register, ...]:
    return (
        Register("Volume", "m3", Integral(volume, flow), 3),
        Register("Flow", "m3/h", flow, 3),
        Register("WaterTemperature", "C", water, 2),
        Register("AmbientTemperature", "C", ambient, 2),
    )


def demo_meters() -> list[ReadyMeter]:
    """Return fresh copies of the five demo meters."""
    heat_flow = Wave(420, 260, _peak(6.5))  # l/h
    heat_power = Wave(13.7, 8.5, _peak(6.5))  # kW: flow * ~28 K * 1.163
    gj_flow = Wave(0.35, 0.2, _peak(7))  # m3/h
    cooling_flow = Wave(0.7, 0.5, _peak(15))  # m3/h
    import_power = Wave(0.6, 0.35, _peak(19))  # kW
    return [
        ReadyMeter(
            WATER_METER_ID,
            "71234567",
            "Water",
            "flowIQ 3100",
            "Søndergade 12, 8000 Aarhus C",
            "100001",
            _water_registers(
                1234.567,
                Wave(0.018, 0.015, _peak(7.5)),
                Wave(11.5, 1.5, _peak(16)),
                Wave(19.0, 2.5, _peak(15)),
            ),
        ),
        ReadyMeter(
            HEAT_METER_ID,
            "68234501",
            "Heat",
            "MULTICAL 603",
            "Skovvej 3, 8660 Skanderborg",
            "100002",
            (
                Register("HeatEnergy", "MWh", Integral(45.678, heat_power, 0.001), 3),
                Register("Volume", "m3", Integral(2345.678, heat_flow, 0.001), 3),
                Register("Power", "kW", heat_power, 1),
                Register("Flow", "l/h", heat_flow, 0),
                Register("ForwardTemperature", "C", Wave(68, 4, _peak(6.5)), 2),
                Register("ReturnTemperature", "C", Wave(40, 3, _peak(8)), 2),
                Register("HourCounter", "h", Hours(1_556_668_800), 0),  # 2019-05-01
            ),
        ),
        ReadyMeter(
            HEAT_GJ_METER_ID,
            "66345612",
            "Heat",
            "MULTICAL 403",
            "Engvej 17, 7100 Vejle",
            "100003",
            (
                Register(
                    "HeatEnergy",
                    "GJ",
                    Integral(123.456, Wave(10, 6, _peak(7)), 0.0036),
                    3,
                ),
                Register("Volume", "m3", Integral(987.654, gj_flow), 3),
                Register("Flow", "m3/h", gj_flow, 3),
                Register("ForwardTemperature", "C", Wave(60, 3, _peak(7)), 2),
                Register("ReturnTemperature", "C", Wave(35, 2.5, _peak(8.5)), 2),
            ),
        ),
        ReadyMeter(
            COOLING_METER_ID,
            "68456723",
            "Cooling",
            "MULTICAL 603",
            "Havnegade 40, 5000 Odense C",
            "100004",
            (
                Register(
                    "CoolingEnergy", "kWh", Integral(8765.432, Wave(4, 3, _peak(15))), 3
                ),
                Register("Volume", "m3", Integral(543.21, cooling_flow), 3),
                Register("Flow", "m3/h", cooling_flow, 3),
                Register("ForwardTemperature", "C", Wave(7, 0.5, _peak(15)), 2),
                Register("ReturnTemperature", "C", Wave(12, 1, _peak(15.5)), 2),
            ),
        ),
        ReadyMeter(
            ELECTRICITY_METER_ID,
            "57567834",
            "Electricity",
            "OMNIPOWER",
            "Søndergade 12, 8000 Aarhus C",
            "100001",
            (
                Register("Energy", "kWh", Integral(23456.789, import_power), 3),
                Register(
                    "EnergyExport",
                    "kWh",
                    Integral(3456.789, Wave(0.8, 0.8, _peak(12))),
                    3,
                ),
                Register("Power", "kW", import_power, 3),
            ),
        ),
    ]


def generated_meter(index: int) -> ReadyMeter:
    """Return the generated water meter at list position ``index`` (>= 5)."""
    mix = (index * 2_654_435_761) % 2**32 / 2**32  # a fixed pseudo-random 0..1
    flow = 0.008 + (index % 17) * 0.0015
    return ReadyMeter(
        str(uuid.uuid5(_NAMESPACE, f"ready-water-{index}")),
        f"{72_000_000 + index:08d}",
        "Water",
        "flowIQ 3100",
        f"Vandværksvej {index}, 8000 Aarhus C",
        f"{200_000 + index}",
        _water_registers(
            round(50 + 2000 * mix + index / 1000, 3),
            Wave(flow, flow * (0.5 + 0.4 * mix), _peak(6 + 3 * mix)),
            Wave(10 + 3 * mix, 1 + mix, _peak(14 + 4 * mix)),
            Wave(17 + 5 * mix, 2 + mix, _peak(13 + 4 * mix)),
        ),
    )


# ---- subscriptions and deliveries --------------------------------------------------
@dataclass
class Subscription:
    """A webhook subscription as the API keeps it."""

    subscription_id: str
    webhook_uri: str
    status_uri: str
    resources: list[str]
    status: str = "PendingVerification"  # | Active | Suspended | Failed | Deleted

    def as_json(self) -> dict[str, Any]:
        """Return the JSON that GET /api/v1/webhooks/subscriptions lists."""
        return {
            "subscriptionId": self.subscription_id,
            "webhookUri": self.webhook_uri,
            "statusUri": self.status_uri,
            "resources": list(self.resources),
            "status": self.status,
        }


@dataclass
class Delivery:
    """One webhook POST the simulator made (status None: the connection failed)."""

    url: str
    kind: str  # Verification | MeterReadings | Alarms | Status
    delivery_id: str | None
    status: int | None
    body: bytes
    subscription_id: str = ""
    error: str = ""  # why the POST failed, if it did


@dataclass
class _Pending:
    subscription_id: str
    kind: str
    delivery_id: str
    body: bytes


@dataclass
class _Token:
    expires_at: float
    client_id: str


# ---- helpers -----------------------------------------------------------------------
def _clock_now() -> float:
    return time.time()  # looked up per call, so freezegun's patched time is honoured


def _iso(t: float) -> str:
    return datetime.fromtimestamp(int(t), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _epoch(at: datetime) -> int:
    """Return whole epoch seconds of ``at`` (naive datetimes are UTC)."""
    if at.tzinfo is None:
        at = at.replace(tzinfo=UTC)
    return math.floor(at.timestamp())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


class _Abort(Exception):
    """Raised inside handlers to answer with a prepared response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def _problem(status: int, detail: str, **headers: str) -> _Abort:
    """Return an RFC 9457 problem answer, as ASP.NET Core writes them."""
    body = {
        "type": _PROBLEM_TYPES.get(status, "about:blank"),
        "title": web.Response(status=status).reason,
        "status": status,
        "detail": detail,
        "traceId": f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00",
    }
    return _Abort(
        web.Response(
            status=status,
            body=_dumps(body),
            content_type="application/problem+json",
            charset="utf-8",
            headers=headers,
        )
    )


def _gateway(status: int) -> _Abort:
    title = f"{status} {web.Response(status=status).reason}"
    return _Abort(
        web.Response(
            status=status, text=_GATEWAY.format(title), content_type="text/html"
        )
    )


def _answer_fault(fault: Fault) -> None:
    """Raise a 200 answer that is not the API's, for the faults that are one."""
    if fault is Fault.HTML_PAGE:
        raise _Abort(web.Response(text=_PORTAL, content_type="text/html"))
    if fault is Fault.EMPTY_ANSWER:
        raise _Abort(web.Response(body=b"", content_type="application/json"))
    if fault is Fault.SERVER_ERROR:
        raise _gateway(503)


def _oauth_error(
    status: int, error: str, description: str, code: int, retry_after: str = ""
) -> _Abort:
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
    return _Abort(
        web.Response(
            status=status,
            body=_dumps(body),
            content_type="application/json",
            charset="utf-8",
            headers={"Retry-After": retry_after} if retry_after else None,
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


# ---- the simulator -----------------------------------------------------------------
class ReadySimulator:
    """The fake READY cloud. Mutate meters, fault, api_key, ... freely from tests."""

    def __init__(
        self, clock: Callable[[], float] = _clock_now, meter_count: int = 5
    ) -> None:
        self.clock = clock
        self.tenant_id = DEMO_TENANT_ID
        self.client_id = DEMO_CLIENT_ID
        self.client_secret = DEMO_CLIENT_SECRET
        self.api_key = DEMO_API_KEY
        self._demo = demo_meters()
        self.meters: list[ReadyMeter] = []
        self.set_meter_count(meter_count)
        # Retry-After of a 429: seconds, or an HTTP date as text.
        self.retry_after: float | str = 30
        # What Fault.NON_FINITE writes for each total: NaN, Infinity, 1e400...
        self.non_finite = "NaN"
        # Answered readings (latest, history) of a meter carry these over
        # their own keys ({"timestamp": None}, {"registers": {}}, ...) ...
        self.wrong_shapes: dict[str, dict[str, Any]] = {}
        # ... or these after their own registers (None, {"value": "x"}, ...).
        self.wrong_registers: dict[str, list[Any]] = {}
        self.token_lifetime = 3599
        self.delivery_timeout = 10.0  # seconds, for every outgoing webhook POST
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # Every answer, in order, with the clock's time: to count and time faults.
        self.answers: list[Answer] = []
        self.tokens_issued = 0
        self.issued: set[str] = set()  # every access token, revoked ones too
        self._arrived = asyncio.Event()
        self.subscriptions: dict[str, Subscription] = {}
        self.deliveries: list[Delivery] = []
        self._fault = Fault.NONE
        # What the token endpoint answers instead: HTML_PAGE, EMPTY_ANSWER,
        # SERVER_ERROR, or a token whose lifetime is `non_finite`
        # (NON_FINITE) or no number (WRONG_SHAPE). INVALID_CLIENT is
        # `fault`'s, as ever.
        self.token_fault = Fault.NONE
        self._history_left: int | None = None
        self._latest_held = False
        self._subscribe_held = False
        # Where the history ends: `to` inclusive or not, the newest hour late.
        self.window = HistoryWindow()
        self._tokens: dict[str, _Token] = {}
        self._pending: list[_Pending] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._release = asyncio.Event()
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._base: str | None = None

    # ---- state for tests -----------------------------------------------------------
    @property
    def fault(self) -> Fault:
        """Fault for /api/v1/* or (INVALID_CLIENT) for the token endpoint."""
        return self._fault

    @fault.setter
    def fault(self, value: Fault) -> None:
        self._fault = Fault(value)
        self._wake()

    @property
    def history_left(self) -> int | None:
        """Answer this many more history requests, then hang until set to None.

        An import cut off in the middle; None (the default) answers them all.
        """
        return self._history_left

    @history_left.setter
    def history_left(self, value: int | None) -> None:
        self._history_left = value
        self._wake()

    @property
    def latest_held(self) -> bool:
        """While True, latest readings are answered only once it is False."""
        return self._latest_held

    @latest_held.setter
    def latest_held(self, value: bool) -> None:
        self._latest_held = value
        self._wake()

    @property
    def subscribe_held(self) -> bool:
        """While True, a subscribe request is answered only once it is False."""
        return self._subscribe_held

    @subscribe_held.setter
    def subscribe_held(self, value: bool) -> None:
        self._subscribe_held = value
        self._wake()

    @property
    def base_url(self) -> str:
        """Return the base URL (valid after start)."""
        if self._base is None:
            raise RuntimeError("the simulator is not started")
        return self._base

    @property
    def token_url(self) -> str:
        """Return the token endpoint URL (valid after start)."""
        return f"{self.base_url}/{self.tenant_id}/oauth2/v2.0/token"

    @property
    def scope(self) -> str:
        """Return the scope a client is expected to ask for."""
        return f"{self.base_url}/.default"

    def set_meter_count(self, n: int) -> None:
        """Keep the first min(n, 5) demo meters and generate water meters up to n."""
        if not MIN_METERS <= n <= MAX_METERS:
            raise ValueError(f"meter count must be {MIN_METERS}..{MAX_METERS}: {n}")
        demo = self._demo[:n]
        self.meters = demo + [generated_meter(i) for i in range(len(demo), n)]

    def meter(self, meter_id: str) -> ReadyMeter:
        """Return the meter with this id (KeyError if unknown)."""
        for meter in self.meters:
            if meter.meter_id == meter_id:
                return meter
        raise KeyError(meter_id)

    def set_info_code(self, meter_id: str, code: int) -> None:
        """Set the meter's alarm bits: every reading sent from now on carries them."""
        self.meter(meter_id).info_code = code

    def set_sensor_fault(
        self, meter_id: str, on: bool = True, *, temperature: float = 0.0
    ) -> None:
        """Switch a heat/cooling meter's sensor fault on or off.

        While on, both temperatures read ``temperature`` (0.00 or 185.00) and Flow
        and Power read 0; totals keep counting.
        """
        meter = self.meter(meter_id)
        if not any(r.name in _SENSOR_FAULT_TEMPERATURES for r in meter.registers):
            raise ValueError(f"meter {meter_id} has no forward/return temperature")
        meter.sensor_fault = temperature if on else None

    def reading(self, meter_id: str, at: datetime) -> dict[str, Any]:
        """Return the Reading JSON of that meter at that moment (naive: UTC)."""
        return self.meter(meter_id).reading(_epoch(at))

    def last_hour(self) -> int:
        """Return the clock's last whole hour in epoch seconds."""
        return math.floor(self.clock()) // _HOUR * _HOUR

    def request_count(self, path: str) -> int:
        """Count requests for exactly ``path``, e.g. "/api/v1/readings/latest"."""
        return sum(1 for _, p, _ in self.requests if p == path)

    async def wait_for_requests(self, path: str, count: int) -> None:
        """Wait until ``count`` requests for ``path`` have arrived."""
        while self.request_count(path) < count:
            await self._arrived.wait()
            self._arrived.clear()

    def revoke_tokens(self) -> None:
        """Invalidate every access token issued so far (the API answers 401)."""
        self._tokens.clear()

    def secrets(self) -> set[str]:
        """Every credential and personal detail this cloud holds or handed out."""
        found = self.issued | {self.client_secret, self.api_key}
        for meter in self.meters:
            found |= {meter.serial_number, meter.customer_number, meter.address}
            found |= {part.strip() for part in meter.address.split(",")}
        return found - {""}

    def sign(self, body: bytes) -> str:
        """Return the X-Ready-Signature of ``body`` under the current api_key."""
        digest = hmac.new(self.api_key.encode(), body, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    @staticmethod
    def verification_hash(api_key: str, token: str) -> str:
        """Return base64(HMAC-SHA256(key=api_key UTF-8, msg=token UTF-8))."""
        digest = hmac.new(api_key.encode(), token.encode(), hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    # ---- server lifecycle ----------------------------------------------------------
    def app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        api = self._api
        app.router.add_get(f"{API_PATH}/meters", api(self._meters))
        app.router.add_get(f"{API_PATH}/readings/latest", api(self._latest))
        app.router.add_get(
            f"{API_PATH}/meters/{{meter_id}}/readings", api(self._history)
        )
        app.router.add_get(SUBSCRIPTIONS_PATH, api(self._list_subscriptions))
        app.router.add_post(SUBSCRIPTIONS_PATH, api(self._subscribe))
        one = f"{SUBSCRIPTIONS_PATH}/{{subscription_id}}"
        app.router.add_get(one, api(self._get_subscription))
        app.router.add_delete(one, api(self._unsubscribe))
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); return the base URL."""
        self._stopping = False
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        bound_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._base = f"http://{bound_host}:{bound_port}"
        return self._base

    async def stop(self) -> None:
        """Release hanging requests, cancel deliveries in flight, shut down."""
        self._stopping = True
        self._wake()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def settle(self) -> None:
        """Wait for every delivery in flight (verifications, status posts, pushes)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _wake(self) -> None:
        self._release.set()
        self._release = asyncio.Event()

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.query)))
        self._arrived.set()
        try:
            response = await self._answer(request, handler)
        except web.HTTPException as err:  # aiohttp's own answer, outside the API
            self._answered(request, err.status)
            raise
        except asyncio.CancelledError:  # the client gave up waiting
            self._answered(request, 499)
            raise
        self._answered(request, response.status)
        return response

    async def _answer(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        try:
            return await handler(request)
        except _Abort as err:
            return err.response
        except web.HTTPException as err:  # unknown path or method under the API
            if not request.path.startswith(f"{API_PATH}/") or err.status < 400:
                raise
            return _problem(err.status, err.reason).response

    def _answered(self, request: web.Request, status: int) -> None:
        self.answers.append(Answer(self.clock(), request.method, request.path, status))

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
        if self.token_fault is not Fault.NONE:
            _answer_fault(self.token_fault)
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
        now = self.clock()
        expires_at = now + self.token_lifetime
        claims = {
            "aud": f"{request.scheme}://{request.host}",
            "iss": f"https://sts.windows.net/{self.tenant_id}/",
            "iat": int(now),
            "nbf": int(now),
            "exp": int(expires_at),
            "appid": client_id,
            "tid": self.tenant_id,
            "jti": secrets.token_hex(8),
        }
        head = _b64url(b'{"typ":"JWT","alg":"RS256"}')
        token = f"{head}.{_b64url(_dumps(claims))}.{_b64url(secrets.token_bytes(64))}"
        self._tokens[token] = _Token(expires_at, client_id)
        self.tokens_issued += 1
        self.issued.add(token)
        lifetime: int | str = self.token_lifetime
        if self.token_fault is Fault.NON_FINITE:
            lifetime = _NON_FINITE_MARK
        elif self.token_fault is Fault.WRONG_SHAPE:
            lifetime = "an hour"
        text = _json_text(
            {
                "token_type": "Bearer",
                "expires_in": lifetime,
                "ext_expires_in": lifetime,
                "access_token": token,
            }
        )
        text = text.replace(json.dumps(_NON_FINITE_MARK), self.non_finite)
        return web.Response(text=text, content_type="application/json")

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
        _answer_fault(fault)  # SERVER_ERROR, HTML_PAGE, EMPTY_ANSWER
        if fault is Fault.TIMEOUT:
            while self.fault is Fault.TIMEOUT and not self._stopping:
                await self._release.wait()
            raise _gateway(504)

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
        while self._latest_held:
            if self._stopping:
                raise _gateway(504)
            await self._release.wait()
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
        while self._history_left is not None and self._history_left <= 0:
            if self._stopping:
                raise _gateway(504)
            await self._release.wait()
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
        for reading in readings:
            reading["registers"] += self.wrong_registers.get(reading["meterId"], [])
            reading |= self.wrong_shapes.get(reading["meterId"], {})
        if self.fault is not Fault.NON_FINITE:
            return web.json_response(readings, dumps=_json_text)
        for reading in readings:
            registers = reading.get("registers")
            for register in registers if isinstance(registers, list) else ():
                if isinstance(register, dict) and register.get("register") in _TOTALS:
                    register["value"] = _NON_FINITE_MARK
        text = _json_text(readings).replace(
            json.dumps(_NON_FINITE_MARK), self.non_finite
        )
        return web.Response(text=text, content_type="application/json")

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
        while self._subscribe_held:
            if self._stopping:
                raise _gateway(504)
            await self._release.wait()
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

    # ---- outgoing webhooks -----------------------------------------------------------
    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _post(
        self,
        url: str,
        kind: str,
        body: bytes,
        *,
        subscription_id: str,
        delivery_id: str | None = None,
        signed: bool = True,
    ) -> tuple[int | None, bytes]:
        """POST ``body``; record it in deliveries; return (status, answer body).

        Never raises (except CancelledError): failures are status None.
        """
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.delivery_timeout)
            )
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Kamstrup-READY-Webhooks/1.0",
        }
        if signed:
            headers[SIGNATURE_HEADER] = self.sign(body)
        status: int | None = None
        answer, error = b"", ""
        try:
            async with self._session.post(url, data=body, headers=headers) as resp:
                status = resp.status
                answer = await resp.read()
        except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as err:
            error = f"{type(err).__name__}: {err}"
            _LOGGER.info("%s POST to %s failed: %s", kind, url, error)
        self.deliveries.append(
            Delivery(url, kind, delivery_id, status, body, subscription_id, error)
        )
        return status, answer

    async def _verify(self, sub: Subscription) -> None:
        """Run the verification handshake; then post Active or Failed."""
        try:
            token = secrets.token_urlsafe(32)
            body = _dumps(
                {
                    "type": "Verification",
                    "subscriptionId": sub.subscription_id,
                    "verificationToken": token,
                }
            )
            status, answer = await self._post(
                sub.webhook_uri,
                "Verification",
                body,
                subscription_id=sub.subscription_id,
                signed=False,
            )
            reason = _verification_failure(
                status, answer, self.verification_hash(self.api_key, token)
            )
            if self.subscriptions.get(sub.subscription_id) is not sub:
                return  # deleted meanwhile: nothing more
            if sub.status != "PendingVerification":
                return  # a test set another status meanwhile
            _LOGGER.info(
                "subscription %s verification: %s",
                sub.subscription_id,
                reason or "ok",
            )
            await self.post_status(
                sub.subscription_id, "Failed" if reason else "Active", reason
            )
        except Exception:  # a background task must never raise
            _LOGGER.exception("verification of %s failed", sub.subscription_id)

    async def post_status(
        self, subscription_id: str, status: str, reason: str = ""
    ) -> None:
        """Set the subscription's status and POST it (signed) to its statusUri."""
        sub = self.subscriptions[subscription_id]
        sub.status = status
        body = _dumps(
            {
                "subscriptionId": subscription_id,
                "status": status,
                "reason": reason,
                "timestamp": _iso(self.clock()),
            }
        )
        await self._post(
            sub.status_uri, "Status", body, subscription_id=subscription_id
        )

    async def _deliver(
        self, sub: Subscription, kind: str, delivery_id: str, body: bytes
    ) -> bool:
        status, _ = await self._post(
            sub.webhook_uri,
            kind,
            body,
            subscription_id=sub.subscription_id,
            delivery_id=delivery_id,
        )
        return status is not None and 200 <= status < 300

    async def _push(
        self, kind: str, items: list[dict[str, Any]], delivery_id: str
    ) -> None:
        """Send ``items`` (in batches) to every Active subscription of ``kind``."""
        key = "readings" if kind == "MeterReadings" else "alarms"
        batches = [
            items[i : i + MAX_READINGS] for i in range(0, len(items), MAX_READINGS)
        ] or [[]]
        ids = [delivery_id] + [f"{delivery_id}-{n}" for n in range(1, len(batches))]
        subs = [
            s
            for s in self.subscriptions.values()
            if s.status == "Active" and kind in s.resources
        ]

        async def send(sub: Subscription) -> None:
            for did, batch in zip(ids, batches, strict=True):
                body = _dumps(
                    {
                        "type": kind,
                        "subscriptionId": sub.subscription_id,
                        "deliveryId": did,
                        key: batch,
                    }
                )
                if not await self._deliver(sub, kind, did, body):
                    self._pending.append(_Pending(sub.subscription_id, kind, did, body))

        await asyncio.gather(*(self._spawn(send(s)) for s in subs))

    async def push_readings(
        self,
        meter_ids: Sequence[str] | None = None,
        at: datetime | None = None,
        *,
        hours: int = 1,
        delivery_id: str | None = None,
    ) -> str:
        """Push readings to every Active MeterReadings subscription.

        Readings of ``meter_ids`` (default all) at each whole hour of the ``hours``
        hours ending at ``at`` (default the clock's last whole hour); returns the
        deliveryId.

        Batches over 10,000 readings are split; batch n > 0 gets "{deliveryId}-{n}".
        Deliveries not answered 2xx are remembered for redeliver().
        """
        delivery_id = delivery_id or str(uuid.uuid4())
        end = self.last_hour() if at is None else _epoch(at) // _HOUR * _HOUR
        meters = (
            self.meters if meter_ids is None else [self.meter(i) for i in meter_ids]
        )
        items = [
            meter.reading(t)
            for t in range(end - (hours - 1) * _HOUR, end + 1, _HOUR)
            for meter in meters
        ]
        await self._push("MeterReadings", items, delivery_id)
        return delivery_id

    async def push_alarms(
        self, meter_id: str, info_code: int, at: datetime | None = None
    ) -> str:
        """Set the meter's info code and push one alarm; return the deliveryId.

        One Alarms message (timestamp ``at``, default now) goes to every Active
        Alarms subscription.
        """
        self.set_info_code(meter_id, info_code)
        t = math.floor(self.clock()) if at is None else _epoch(at)
        alarm = {"meterId": meter_id, "timestamp": _iso(t), "infoCode": info_code}
        delivery_id = str(uuid.uuid4())
        await self._push("Alarms", [alarm], delivery_id)
        return delivery_id

    async def redeliver(self) -> int:
        """POST remembered undelivered bodies again; return how many were posted.

        Same deliveryId, same bytes, to subscriptions still Active; those answered
        2xx are forgotten, bodies of deleted subscriptions too.
        """
        pending, self._pending = self._pending, []
        due: list[tuple[_Pending, Subscription]] = []
        for item in pending:
            sub = self.subscriptions.get(item.subscription_id)
            if sub is None:
                continue  # deleted: forget it
            if sub.status != "Active":
                self._pending.append(item)  # keep it for when it is Active again
            else:
                due.append((item, sub))

        async def again(item: _Pending, sub: Subscription) -> None:
            if not await self._deliver(sub, item.kind, item.delivery_id, item.body):
                self._pending.append(item)

        await asyncio.gather(*(self._spawn(again(i, s)) for i, s in due))
        return len(due)

    @property
    def undelivered(self) -> int:
        """Return how many bodies wait for redelivery."""
        return len(self._pending)


def _json_text(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


def _verification_failure(status: int | None, answer: bytes, expected: str) -> str:
    """Return why a verification answer is wrong ("" if it is right)."""
    if status is None:
        return "The webhook endpoint could not be reached."
    if status != 200:
        return f"The webhook endpoint answered HTTP {status} to the verification."
    try:
        got = json.loads(answer)
    except ValueError:
        return "The verification answer is not JSON."
    value = got.get("verificationHash") if isinstance(got, dict) else None
    if not isinstance(value, str):
        return "The verification answer has no verificationHash."
    if not hmac.compare_digest(value.encode(), expected.encode()):
        return "The verificationHash does not match."
    return ""


# ---- CLI -------------------------------------------------------------------------
async def _push_loop(sim: ReadySimulator, every: float) -> None:
    count = 0
    while True:
        await asyncio.sleep(every)
        count += 1
        if count % 5 == 0 and WATER_METER_ID in {m.meter_id for m in sim.meters}:
            code = sim.meter(WATER_METER_ID).info_code ^ LEAK
            await sim.push_alarms(WATER_METER_ID, code)
            print(f"water meter infoCode -> {code}", flush=True)
        again = await sim.redeliver()
        await sim.push_readings()
        active = sum(1 for s in sim.subscriptions.values() if s.status == "Active")
        if active or again:
            print(
                f"push {count}: {len(sim.meters)} meters -> {active} subscription(s),"
                f" {again} redelivered, {sim.undelivered} undelivered",
                flush=True,
            )


async def _serve(host: str, port: int, meters: int, push_every: float) -> None:
    sim = ReadySimulator(meter_count=meters)
    url = await sim.start(host, port)
    print(
        f"READY simulator on {url}\n"
        f"  token URL:     {sim.token_url}\n"
        f"  scope:         {sim.scope}\n"
        f"  tenant ID:     {sim.tenant_id}\n"
        f"  client ID:     {sim.client_id}\n"
        f"  client secret: {sim.client_secret}\n"
        f"  API key:       {sim.api_key}\n"
        f"  {len(sim.meters)} meters; pushes every {push_every:g} s. Ctrl-C stops.",
        flush=True,
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    work = asyncio.ensure_future(
        _push_loop(sim, push_every) if push_every > 0 else stop.wait()
    )
    stopped = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if work.done():
            work.result()  # the push loop only ends by raising
    finally:
        for task in (work, stopped):
            task.cancel()
        await asyncio.gather(work, stopped, return_exceptions=True)
        await sim.stop()
    print("READY simulator stopped", flush=True)


def main(argv: Iterable[str] | None = None) -> None:
    """Serve the simulator with the real clock until Ctrl-C or SIGTERM."""
    parser = argparse.ArgumentParser(description="Serve the fake Kamstrup READY cloud.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8781)
    parser.add_argument("--meters", type=int, default=5, help="3..5000")
    parser.add_argument(
        "--push-every", type=float, default=60, help="seconds; 0 = never push"
    )
    args = parser.parse_args(None if argv is None else list(argv))
    if not MIN_METERS <= args.meters <= MAX_METERS:
        parser.error(f"--meters must be {MIN_METERS}..{MAX_METERS}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args.host, args.port, args.meters, args.push_every))


if __name__ == "__main__":
    main()
