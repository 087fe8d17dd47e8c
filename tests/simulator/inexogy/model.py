"""The inexogy cloud's accounts, meters and their readings, tokens and faults.

Every value is a pure function of the clock, so /last_reading and /readings
agree; see app.py for how the API serves them.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
import math
import secrets
from typing import Any

from tests.simulator import NON_FINITE_MARK, HistoryWindow, Switch, clock_now

from .appliances import QUARTER_MS, Missing, SimAppliance, demo_appliances

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo-password"

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


@dataclass(frozen=True)
class Daily:
    """A total that grows by each UTC hour's amount of a day's ``profile``.

    Evenly within the hour; ``start`` at firstMeasurementTime, as Total.
    """

    start: int
    profile: tuple[int, ...]  # 24 amounts, from 00:00 UTC

    def at(self, ms: int, first_ms: int) -> int:
        return self.start + self._grown(max(ms, first_ms)) - self._grown(first_ms)

    def _grown(self, ms: int) -> int:
        days, within = divmod(ms, _DAY_MS)
        hour, part = divmod(within, 3_600_000)
        return (
            days * sum(self.profile)
            + sum(self.profile[:hour])
            + self.profile[hour] * part // 3_600_000
        )


type FieldSpec = Total | Wave | Sum | Daily


class WaterUse(StrEnum):
    """How the demo water meter's water is used: see InexogyCloud.water_use."""

    # 6 L every hour, day and night: the demo meter's, as a dripping tap.
    STEADY = "steady"
    # Showers in the morning, cooking and washing in the evening, a
    # dishwasher on a timer at night, and hours without water between.
    HOUSEHOLD = "household"
    # The household, with a toilet whose fill valve never closes (20 L/h).
    RUNNING_TOILET = "running_toilet"


# Litres per UTC hour. In the tests' time zone (US/Pacific, UTC-8) the
# morning is 14-16 UTC, the evening 0-4 UTC, the dishwasher runs at 1 and 2
# at night (9 and 10 UTC), and the night from 2 to 5 is 10-13 UTC.
_HOUSEHOLD = (
    12,
    30,
    25,
    0,
    15,
    0,
    0,
    0,
    0,
    6,
    6,
    0,
    0,
    0,
    40,
    60,
    10,
    0,
    0,
    0,
    5,
    0,
    0,
    0,
)
_WATER_USE: dict[WaterUse, FieldSpec] = {
    WaterUse.STEADY: Total(812_345, 6),  # m³ * 1e3, as litres
    WaterUse.HOUSEHOLD: Daily(812_345, _HOUSEHOLD),
    WaterUse.RUNNING_TOILET: Daily(812_345, tuple(v + 20 for v in _HOUSEHOLD)),
}


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
        SimMeter(water_info, {"volume": _WATER_USE[WaterUse.STEADY]}),
        SimMeter(inactive_info, {"energy": Total(0, 0), "power": Wave(0)}),
    ]


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


class InexogyCloud:
    """The cloud's state: accounts, meters, tokens, faults and other switches.

    InexogySimulator serves it; tests mutate it through the simulator.
    """

    fault = Switch[Fault]("Fault for every data endpoint (not /oauth1/*).", Fault)

    def __init__(self, clock: Callable[[], float] = clock_now) -> None:
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
        # Every key, secret, token and verifier handed out, revoked ones too.
        self.issued: set[str] = set()
        # Answer this many more /readings requests, then hang (as TIMEOUT does)
        # until stopped: a history download cut off in the middle.
        self.readings_left: int | None = None
        # A fault of the meter list alone (not TIMEOUT), the readings unharmed.
        self.list_fault = Fault.NONE
        # Where /readings ends: `to` inclusive or not, the newest hour late.
        self.window = HistoryWindow()
        # Appliances (disaggregation) per meter id: the two-way electricity
        # meter's demo mix; other meters have none. Change it at will.
        self.appliances: dict[str, list[SimAppliance]] = {
            ELECTRICITY_METER_ID: demo_appliances()
        }
        # What the documentation leaves open: what a meter without
        # disaggregation answers, German names in /disaggregation (as its
        # 2020 example), how many hours late quarters and runs are
        # published, and whether `to` is exclusive.
        self.missing_appliances = Missing.EMPTY
        self.german_appliances = False
        self.appliance_delay_hours = 0.0
        self.appliance_to_exclusive = False
        # A fault of the three appliance endpoints alone, readings unharmed.
        self.appliance_fault = Fault.NONE
        self._fault = Fault.NONE
        self._meter_faults = _FaultMap(self._wake, {})
        self._consumers: dict[str, str] = {}
        self._request_tokens: dict[str, _Token] = {}
        self._access_tokens: dict[str, _Token] = {}
        self._nonces: set[tuple[str, str, str]] = set()

    def _wake(self) -> None:
        """A switch changed; the server lets the requests it holds look again."""

    @property
    def water_use(self) -> WaterUse:
        """How the demo water meter's water is used; its whole history follows.

        Set before an entry imports it: the totals are those of the new use
        at every moment, earlier ones included.
        """
        volume = self.meter(WATER_METER_ID).fields["volume"]
        return next(use for use, spec in _WATER_USE.items() if spec == volume)

    @water_use.setter
    def water_use(self, use: WaterUse) -> None:
        self.meter(WATER_METER_ID).fields["volume"] = _WATER_USE[use]

    @property
    def meter_faults(self) -> dict[str, Fault]:
        """Faults per meterId, for /last_reading and /readings of that meter."""
        return self._meter_faults

    @meter_faults.setter
    def meter_faults(self, value: dict[str, Fault]) -> None:
        self._meter_faults = _FaultMap(self._wake, value)
        self._wake()

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

    def appliance_energy(self, meter_id: str, hour_ms: int) -> dict[str, float]:
        """KWh of each appliance (by its API name) in the hour from ``hour_ms``."""
        first = hour_ms // QUARTER_MS
        return {
            a.name: sum(a.energy(q) for q in range(first, first + 4)) / 1e10
            for a in self.appliances.get(meter_id, [])
        }

    def published_ms(self) -> int:
        """Until when quarters and runs are published now."""
        return self.now_ms() - int(self.appliance_delay_hours * 3_600_000)

    def _password_ok(self, email: str, password: str) -> bool:
        accounts = {e.lower(): p for e, p in self.accounts.items()}
        expected = accounts.get(email.strip().lower())
        return expected is not None and secrets.compare_digest(expected, password)

    def meter_list(self) -> list[dict[str, Any]]:
        """Return what /meters answers: every meter, last measured now if active."""
        now = self.now_ms()
        return [
            m.data | {"lastMeasurementTime": now if m.active else -1}
            for m in self.meters
        ]

    def field_names(self, meter: SimMeter) -> list[str]:
        """Return what /field_names answers for the meter."""
        return list(meter.specs(self.late_fields_visible)) if meter.active else []

    def reading(
        self,
        meter: SimMeter,
        ms: int,
        wanted: list[str],
        fault: Fault,
        stamp: int | None = None,
    ) -> dict[str, Any]:
        """Return the reading at epoch ``ms`` as ``fault`` shapes it.

        Of the ``wanted`` fields (all if none), stamped ``stamp`` (default ``ms``).
        """
        values = self._values(meter, ms, wanted, fault)
        reading = {"time": ms if stamp is None else stamp, "values": values}
        return reading | self.wrong_shape if fault is Fault.WRONG_SHAPE else reading

    def _values(
        self, meter: SimMeter, ms: int, wanted: list[str], fault: Fault
    ) -> dict[str, int | str]:
        values: dict[str, int | str] = {**meter.values_at(ms, self.late_fields_visible)}
        if wanted:
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
            values |= dict.fromkeys(totals, NON_FINITE_MARK)
        return values

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
