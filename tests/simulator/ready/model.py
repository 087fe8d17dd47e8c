"""READY's tenant, meters and their registers, tokens, subscriptions and faults.

Every register value is a pure function of the clock (totals are exact
integrals of their rates, so they never decrease); a meter's infoCode and
sensor fault are state set by tests. app.py serves it, push.py sends it.
"""

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
import hashlib
import hmac
import json
import math
import secrets
from typing import Any
import uuid

from tests.simulator import NON_FINITE_MARK, HistoryWindow, Switch, clock_now

DEMO_TENANT_ID = "3f0c7a52-6d1e-4b8a-9c2f-7e5d1a0b9c84"
DEMO_CLIENT_ID = "5b8e2d14-0a7c-4f3e-b1d6-9a2c8e4f7b30"
DEMO_CLIENT_SECRET = "demo-client-secret"
DEMO_API_KEY = "U4pjN5MroZORb+t7ovNAWu+7l+eCWGhmogrltfuaXZ0="

WATER_METER_ID = "d1251141-6b54-45ab-af4f-5e56ef8fbe13"
HEAT_METER_ID = "dc08795d-0521-4bdd-b209-bccc85bad702"
HEAT_GJ_METER_ID = "4b3efbd2-b4f7-4c6f-a112-a2c5144b0511"
COOLING_METER_ID = "938ed7a0-3572-4949-8949-021915c902ca"
ELECTRICITY_METER_ID = "b41283c1-8473-42ef-a12a-a73157ec87b6"

MAX_READINGS = 10_000  # per history request and per pushed batch
MIN_METERS, MAX_METERS = 3, 5000
RESOURCES = ("MeterReadings", "Alarms")
LEAK = 4  # water meter infoCode bit 2

_HOUR = 3600
_DAY = 86_400
_EPOCH = 1_704_067_200  # 2024-01-01T00:00:00Z: totals equal their start here
_NAMESPACE = uuid.UUID("702e945c-f85b-4b57-9ed4-0e4891eb9d56")
_TOTALS = frozenset({"Volume", "HeatEnergy", "CoolingEnergy", "Energy", "EnergyExport"})


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
class _Token:
    expires_at: float
    client_id: str


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


class ReadyCloud:
    """The cloud's state: tenant, meters, tokens, subscriptions and switches.

    ReadySimulator serves it and sends its pushes; tests mutate it through
    the simulator.
    """

    fault = Switch[Fault](
        "Fault for /api/v1/* or (INVALID_CLIENT) for the token endpoint.", Fault
    )
    history_left = Switch[int | None](
        "Answer this many more history requests, then hang until set to None.\n\n"
        "An import cut off in the middle; None (the default) answers them all."
    )
    latest_held = Switch[bool](
        "While True, latest readings are answered only once it is False."
    )
    subscribe_held = Switch[bool](
        "While True, a subscribe request is answered only once it is False."
    )

    def __init__(
        self, clock: Callable[[], float] = clock_now, meter_count: int = 5
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
        self.tokens_issued = 0
        self.issued: set[str] = set()  # every access token, revoked ones too
        self.subscriptions: dict[str, Subscription] = {}
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

    def _wake(self) -> None:
        """A switch changed; the server lets the requests it holds look again."""

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

    def issue_token(self, audience: str, client_id: str) -> str:
        """Return a new access token for ``audience``, valid token_lifetime seconds."""
        now = self.clock()
        expires_at = now + self.token_lifetime
        claims = {
            "aud": audience,
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
        return token

    def answered(self, readings: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Return readings as answered: with their meters' wrong shapes.

        Under NON_FINITE, every total is NON_FINITE_MARK.
        """
        for reading in readings:
            reading["registers"] += self.wrong_registers.get(reading["meterId"], [])
            reading |= self.wrong_shapes.get(reading["meterId"], {})
        if self.fault is Fault.NON_FINITE:
            for reading in readings:
                registers = reading.get("registers")
                for register in registers if isinstance(registers, list) else ():
                    if (
                        isinstance(register, dict)
                        and register.get("register") in _TOTALS
                    ):
                        register["value"] = NON_FINITE_MARK
        return readings
