"""Kamstrup READY API Access client: OAuth2, meters, readings and webhooks.

READY's Swagger is not public. Every assumption about it (paths, field names,
units, the webhook handshake) lives in this module, so that this one module
changes when the real contract is known.
"""

import base64
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
import hashlib
import hmac
import logging
import math
import time
from typing import Any, Final

import aiohttp
from oauthlib.oauth2 import BackendApplicationClient, OAuth2Error

from .errors import (
    AuthError,
    BadRequestError,
    InvalidResponseError,
    RateLimitedError,
    SmartMeterCloudError,
)
from .manufacturers import manufacturer_name
from .models import Alarm, Medium, Meter, Quantity, Reading
from .parsing import finite, load_json, plausible, record_shape
from .transport import Reply, answer, problem, send, token_answer

_LOGGER = logging.getLogger(__name__)

TOKEN_URL: Final = "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"
SIGNATURE_HEADER: Final = "X-Ready-Signature"
PAGE_SIZE: Final = 100
BATCH_SIZE: Final = 100
DEFAULT_TIMEOUT: Final = 30.0
# Renew the token this long before it expires, so no request carries a stale one.
_TOKEN_MARGIN: Final = 60.0

# READY is Kamstrup's own cloud: it lists no maker.
MANUFACTURER: Final = manufacturer_name("KAM")

_MEDIA: Final = {
    "water": Medium.WATER,
    "heat": Medium.HEAT,
    "heatcooling": Medium.HEAT,
    "cooling": Medium.COOLING,
    "electricity": Medium.ELECTRICITY,
}
_KWH: Final = {"kwh": 1.0, "mwh": 1000.0, "gj": 1e6 / 3600, "wh": 0.001}
_CELSIUS: Final = {"c": 1.0}
# Register -> (quantity, factor into the canonical unit for each unit READY uses).
_REGISTERS: Final[Mapping[str, tuple[Quantity, Mapping[str, float]]]] = {
    "volume": (Quantity.VOLUME, {"m3": 1.0, "l": 0.001}),
    "heatenergy": (Quantity.HEAT_ENERGY, _KWH),
    "coolingenergy": (Quantity.COOLING_ENERGY, _KWH),
    "energy": (Quantity.ENERGY_IMPORT, _KWH),
    "energyexport": (Quantity.ENERGY_EXPORT, _KWH),
    "power": (Quantity.POWER, {"kw": 1000.0, "w": 1.0, "mw": 1e6}),
    "flow": (Quantity.FLOW, {"m3/h": 1.0, "l/h": 0.001}),
    "forwardtemperature": (Quantity.FORWARD_TEMPERATURE, _CELSIUS),
    "returntemperature": (Quantity.RETURN_TEMPERATURE, _CELSIUS),
    "watertemperature": (Quantity.WATER_TEMPERATURE, _CELSIUS),
    "ambienttemperature": (Quantity.AMBIENT_TEMPERATURE, _CELSIUS),
}
# Info code bits: water meters (flowIQ, MULTICAL 21) ...
_WATER_ALARMS: Final = {
    1 << 0: Alarm.DRY,
    1 << 1: Alarm.REVERSE_FLOW,
    1 << 2: Alarm.LEAK,
    1 << 3: Alarm.BURST,
    1 << 4: Alarm.TAMPER,
    1 << 5: Alarm.LOW_BATTERY,
    1 << 6: Alarm.LOW_AMBIENT_TEMPERATURE,
    1 << 7: Alarm.HIGH_AMBIENT_TEMPERATURE,
    1 << 9: Alarm.NO_CONSUMPTION,
}
# ... and heat and cooling meters (MULTICAL 403/603/803) use another table.
_HEAT_ALARMS: Final = {
    1: Alarm.NO_SUPPLY_VOLTAGE,
    2: Alarm.LOW_BATTERY,
    4: Alarm.EXTERNAL_ALARM,
    8: Alarm.FORWARD_TEMPERATURE_ABOVE_RANGE,
    16: Alarm.RETURN_TEMPERATURE_ABOVE_RANGE,
    32: Alarm.FORWARD_TEMPERATURE_BELOW_RANGE,
    64: Alarm.RETURN_TEMPERATURE_BELOW_RANGE,
    128: Alarm.INVALID_TEMPERATURE_DIFFERENCE,
    256: Alarm.AIR_IN_FLOW_SENSOR,
    512: Alarm.WRONG_FLOW_DIRECTION,
    2048: Alarm.FLOW_ABOVE_LIMIT,
    4096: Alarm.LEAK_INPUT_A,
    8192: Alarm.LEAK_INPUT_B,
}
_ALARM_TABLES: Final[Mapping[Medium, Mapping[int, Alarm]]] = {
    Medium.WATER: _WATER_ALARMS,
    Medium.HEAT: _HEAT_ALARMS,
    Medium.COOLING: _HEAT_ALARMS,
}
# A heat meter whose temperature sensor fails reports one of these with no flow.
_SENSOR_FAULT_TEMPERATURES: Final = (0.0, 185.0)
_TEMPERATURES: Final = (
    Quantity.FORWARD_TEMPERATURE,
    Quantity.RETURN_TEMPERATURE,
    Quantity.TEMPERATURE_DIFFERENCE,
)


def verification_hash(api_key: str, token: str) -> str:
    """Answer the subscription challenge: Base64 HMAC-SHA256 keyed by the API key."""
    return _hmac(api_key, token.encode())


def signature_valid(api_key: str, body: bytes, signature: str | None) -> bool:
    """Tell whether a push was signed with our API key.

    A signature is Base64: anything not ASCII is none of ours (and could not
    be compared as text).
    """
    return (
        signature is not None
        and signature.isascii()
        and hmac.compare_digest(_hmac(api_key, body), signature.strip())
    )


def _hmac(api_key: str, message: bytes) -> str:
    digest = hmac.new(api_key.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def decode_alarms(medium: Medium, info_code: int) -> frozenset[Alarm] | None:
    """Decode an info code by the meter's own table; None if it has none."""
    table = _ALARM_TABLES.get(medium)
    if table is None:
        return None
    return frozenset(alarm for mask, alarm in table.items() if info_code & mask)


def _info_code(value: Any) -> int | None:
    """Return an info code: a non-negative integer, never true or -1.

    JSON's true is an int to Python, and -1 has every bit set: decoded,
    they would raise alarms no meter reported.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


# Fields of a meter record whose values help to fix a contract assumption.
_SHOWN_FIELDS: Final = frozenset({"meterId", "meterType", "model"})


def parse_meter(data: Mapping[str, Any]) -> Meter | None:
    """Return the meter of an API record, or None for a kind we cannot show."""
    medium = _MEDIA.get(str(data.get("meterType", "")).lower())
    if medium is None:
        return None
    return Meter(
        id=str(data["meterId"]),
        medium=medium,
        manufacturer=MANUFACTURER,
        model=str(data.get("model") or "READY meter"),
        serial=str(data.get("serialNumber") or ""),
        active=True,
        alarms=frozenset(_ALARM_TABLES.get(medium, {}).values()),
        raw=record_shape(data, _SHOWN_FIELDS),
    )


def parse_reading(data: Any, medium: Medium) -> Reading:
    """Convert an API reading into canonical units and decoded alarms.

    A register that is malformed (no object, no finite number) is left out
    and the others kept; a reading without a time a meter could report, or
    whose registers are no list, raises InvalidResponseError.
    """
    if not isinstance(data, Mapping):
        raise InvalidResponseError("reading: not an object")
    try:
        moment = _time(data.get("timestamp"))
    except ValueError as err:
        raise InvalidResponseError("reading: no time a meter could report") from err
    registers = data.get("registers")
    if registers is None:
        registers = ()
    elif not isinstance(registers, list):
        raise InvalidResponseError("reading: the registers are no list")
    values: dict[Quantity, float] = {}
    for register in registers:
        if not isinstance(register, Mapping) or (
            (value := finite(register.get("value"))) is None
        ):
            continue
        known = _conversion(
            str(register.get("register", "")), str(register.get("unit", ""))
        )
        if known is not None and math.isfinite(converted := value * known[1]):
            values[known[0]] = converted
    forward = values.get(Quantity.FORWARD_TEMPERATURE)
    back = values.get(Quantity.RETURN_TEMPERATURE)
    if forward is not None and back is not None:
        # Positive in normal operation: heat flows out, cold flows out.
        difference = back - forward if medium is Medium.COOLING else forward - back
        values[Quantity.TEMPERATURE_DIFFERENCE] = round(difference, 2)
    unknown: frozenset[Quantity] = frozenset()
    if medium in (Medium.HEAT, Medium.COOLING) and _sensor_fault(values):
        unknown = frozenset((*_TEMPERATURES, Quantity.FLOW, Quantity.POWER))
        for quantity in unknown:
            values.pop(quantity, None)
    code = _info_code(data.get("infoCode"))
    return Reading(
        time=moment,
        values=values,
        alarms=None if code is None else decode_alarms(medium, code),
        info_code=code,
        unknown=unknown,
    )


@lru_cache(maxsize=1024)
def _conversion(register: str, unit: str) -> tuple[Quantity, float] | None:
    """The quantity of a register and the factor into its canonical unit.

    Worked out once per register name and unit: a push of 10,000 readings
    repeats the same few.
    """
    name = register.lower()
    if (known := _REGISTERS.get(name)) is None:
        return None
    quantity, factors = known
    unit = unit.lower().replace("°", "").replace("³", "3")
    if (factor := factors.get(unit)) is None:
        _LOGGER.debug("Ignoring register %s in unknown unit %s", name, unit)
        return None
    return quantity, factor


def _sensor_fault(values: Mapping[Quantity, float]) -> bool:
    temperatures = (
        values.get(Quantity.FORWARD_TEMPERATURE),
        values.get(Quantity.RETURN_TEMPERATURE),
    )
    return values.get(Quantity.FLOW) == 0 and any(
        t in _SENSOR_FAULT_TEMPERATURES for t in temperatures
    )


def _time(value: Any) -> datetime:
    return _parse_time(str(value))


@lru_cache(maxsize=4096)
def _parse_time(value: str) -> datetime:
    """Parse a timestamp once: the readings of a push share a few hours."""
    moment = datetime.fromisoformat(value)
    return plausible(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


@dataclass(frozen=True, slots=True)
class Subscription:
    """A webhook subscription as READY lists it."""

    id: str
    webhook_uri: str
    status_uri: str
    status: str


@dataclass(frozen=True, slots=True)
class Verification:
    """READY asks us to prove we hold the API key."""

    subscription_id: str
    token: str


@dataclass(frozen=True, slots=True)
class ReadingsPush:
    """Readings of known meters; `delivery_id` repeats when READY redelivers."""

    subscription_id: str
    delivery_id: str
    readings: list[tuple[str, Reading]]


@dataclass(frozen=True, slots=True)
class AlarmsPush:
    """Alarm changes of known meters: (meter id, time, alarms, raw info code)."""

    subscription_id: str
    delivery_id: str
    alarms: list[tuple[str, datetime, frozenset[Alarm], int]]


@dataclass(frozen=True, slots=True)
class StatusPush:
    """A subscription changed state: Active, Suspended, Failed or Deleted."""

    subscription_id: str
    status: str
    reason: str


ACTIVE: Final = "Active"

type DataPush = Verification | ReadingsPush | AlarmsPush


class ReadyClient:
    """Talks to READY API Access over an injected aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str,
        base_url: str,
        token_url: str | None = None,
        scope: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Configure the client; nothing is requested until it is used."""
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._token_url = token_url or TOKEN_URL.format(tenant_id=tenant_id)
        self._scope = scope or f"{self._base_url}/.default"
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._token: str | None = None
        self._token_expires = 0.0
        self._media: dict[str, Medium] = {}

    async def meters(self) -> list[Meter]:
        """Return every meter of the tenant, page by page."""
        meters: list[Meter] = []
        page = 1
        while True:
            found, listed, total = await self._meters_page(page)
            meters += found
            if not listed or page * PAGE_SIZE >= total:
                return meters
            page += 1

    async def first_meters(self) -> list[Meter]:
        """Return the first page of meters: enough to check access."""
        return (await self._meters_page(1))[0]

    async def _meters_page(self, page: int) -> tuple[list[Meter], int, int]:
        """Return a page's meters we can show, how many it listed, and the total."""
        data = await self._api(
            "GET", "/api/v1/meters", {"page": str(page), "pageSize": str(PAGE_SIZE)}
        )
        try:
            items, total = list(data["items"]), int(data["totalCount"])
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidResponseError("meters: unexpected shape") from err
        meters = []
        for item in items:
            if (meter := _guard(parse_meter, item)) is not None:
                meters.append(meter)
                self._media[meter.id] = meter.medium
        return meters, len(items), total

    async def latest_readings(
        self, meter_ids: Sequence[str]
    ) -> dict[str, Reading | SmartMeterCloudError]:
        """Return each meter's latest reading, asking for 100 meters at a time."""
        results: dict[str, Reading | SmartMeterCloudError] = {}
        for batch in _chunks(meter_ids, BATCH_SIZE):
            try:
                data = await self._api(
                    "GET", "/api/v1/readings/latest", {"meterIds": ",".join(batch)}
                )
            except AuthError, RateLimitedError:
                raise
            except SmartMeterCloudError as err:
                results.update(dict.fromkeys(batch, err))
                continue
            wanted = set(batch)
            for meter_id, reading in self._parsed(data):
                if meter_id not in wanted:
                    continue
                old = results.get(meter_id)
                if isinstance(reading, InvalidResponseError):
                    # Why a meter has no reading, unless another one came.
                    results.setdefault(meter_id, reading)
                elif not isinstance(old, Reading) or reading.time >= old.time:
                    results[meter_id] = reading
        return results

    async def history(
        self, meter_id: str, start: datetime, end: datetime
    ) -> list[Reading]:
        """Return the meter's hourly readings between two moments."""
        data = await self._api(
            "GET",
            f"/api/v1/meters/{meter_id}/readings",
            {"from": _iso(start), "to": _iso(end), "resolution": "Hour"},
        )
        readings = [r for m, r in self._readings(data) if m == meter_id]
        return sorted(readings, key=lambda reading: reading.time)

    async def create_subscription(self, webhook_uri: str, status_uri: str) -> str:
        """Subscribe to readings and alarms; READY verifies the webhook next."""
        data = await self._api(
            "POST",
            "/api/v1/webhooks/subscriptions",
            body={
                "webhookUri": webhook_uri,
                "statusUri": status_uri,
                "resources": ["MeterReadings", "Alarms"],
            },
        )
        try:
            return str(data["subscriptionId"])
        except (KeyError, TypeError) as err:
            raise InvalidResponseError("subscription: no id") from err

    async def subscriptions(self) -> list[Subscription]:
        """List the client's webhook subscriptions."""
        data = await self._api("GET", "/api/v1/webhooks/subscriptions")
        try:
            return [
                Subscription(
                    str(s["subscriptionId"]),
                    str(s["webhookUri"]),
                    str(s["statusUri"]),
                    str(s["status"]),
                )
                for s in data
            ]
        except (KeyError, TypeError) as err:
            raise InvalidResponseError("subscriptions: unexpected shape") from err

    async def delete_subscription(self, subscription_id: str) -> None:
        """Delete a webhook subscription; one that is already gone is fine."""
        try:
            await self._api(
                "DELETE", f"/api/v1/webhooks/subscriptions/{subscription_id}"
            )
        except BadRequestError as err:
            if err.status != 404:
                raise

    def parse_data_push(self, data: Mapping[str, Any]) -> DataPush:
        """Read a data-webhook body; raises InvalidResponseError when malformed."""
        try:
            kind = data["type"]
            subscription_id = str(data["subscriptionId"])
            if kind == "Verification":
                return Verification(subscription_id, str(data["verificationToken"]))
            if not isinstance(delivery_id := data["deliveryId"], str | int) or (
                delivery_id == ""
            ):
                # Without one, a redelivery cannot be told from a new push.
                raise InvalidResponseError("push: no delivery id")
            delivery_id = str(delivery_id)
            if kind == "MeterReadings":
                readings = list(self._readings(data["readings"]))
                return ReadingsPush(subscription_id, delivery_id, readings)
            if kind == "Alarms":
                return AlarmsPush(subscription_id, delivery_id, self._alarms(data))
        except (KeyError, TypeError, ValueError) as err:
            raise InvalidResponseError("push: unexpected shape") from err
        raise InvalidResponseError("push: unknown type")

    @staticmethod
    def parse_status_push(data: Mapping[str, Any]) -> StatusPush:
        """Read a status-webhook body; raises InvalidResponseError when malformed."""
        try:
            return StatusPush(
                str(data["subscriptionId"]),
                str(data["status"]),
                str(data.get("reason") or ""),
            )
        except KeyError as err:
            raise InvalidResponseError("status: unexpected shape") from err

    def _readings(self, data: Any) -> Iterator[tuple[str, Reading]]:
        """Parse the readings of meters we listed; skip malformed ones."""
        for meter_id, reading in self._parsed(data):
            if isinstance(reading, Reading):
                yield meter_id, reading
            else:
                _LOGGER.debug("Skipping a reading of meter %s: %s", meter_id, reading)

    def _parsed(
        self, data: Any
    ) -> Iterator[tuple[str, Reading | InvalidResponseError]]:
        """Parse the readings of meters we listed, each or why it is none.

        A malformed reading fails only the meter it names.
        """
        if not isinstance(data, list):
            raise InvalidResponseError("readings: expected a list")
        for item in data:
            meter_id = str(item.get("meterId")) if isinstance(item, dict) else ""
            if (medium := self._media.get(meter_id)) is not None:
                try:
                    yield meter_id, parse_reading(item, medium)
                except InvalidResponseError as err:
                    yield meter_id, err

    def _alarms(
        self, data: Mapping[str, Any]
    ) -> list[tuple[str, datetime, frozenset[Alarm], int]]:
        alarms = []
        for item in data["alarms"]:
            meter_id, code = str(item["meterId"]), _info_code(item["infoCode"])
            medium = self._media.get(meter_id)
            if code is None:
                # One alarm without a code: the others of the push still count.
                _LOGGER.debug(
                    "Ignoring an alarm of meter %s with no info code", meter_id
                )
                continue
            decoded = None if medium is None else decode_alarms(medium, code)
            if decoded is not None:
                alarms.append((meter_id, _time(item["timestamp"]), decoded, code))
        return alarms

    async def _api(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call the API with a fresh token; renew it once if READY rejects it."""
        for attempt in (1, 2):
            token = await self._access_token()
            reply = await self._send(
                method,
                self._base_url + path,
                params=params,
                json=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json",
                },
            )
            if reply.status == 401 and attempt == 1:
                self._token = None
                continue
            if reply.status == 204:
                return None
            text = answer(
                reply,
                path,
                content_type=reply.content_type,
                quote=problem,
                numbered=True,
            )
            return load_json(text, path)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _access_token(self) -> str:
        if self._token is not None and time.monotonic() < self._token_expires:
            return self._token
        oauth = BackendApplicationClient(client_id=self._client_id)
        form = oauth.prepare_request_body(
            scope=[self._scope],
            client_secret=self._client_secret,
            include_client_id=True,
        )
        reply = await self._send(
            "POST",
            self._token_url,
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

    async def _send(self, method: str, url: str, **kwargs: Any) -> Reply:
        return await send(
            self._session,
            method,
            url,
            closed_is_outage=True,
            timeout=self._timeout,
            **kwargs,
        )


def _guard[*Ts, T](parse: Callable[[*Ts], T], *args: *Ts) -> T | None:
    """Skip one malformed record instead of failing the whole answer."""
    try:
        return parse(*args)
    except KeyError, TypeError, ValueError, AttributeError:
        _LOGGER.debug("Skipping a malformed record")
        return None


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
