"""inexogy (formerly Discovergy) client: OAuth 1.0a and meter readings.

Every inexogy key, unit and scale ends here; callers see `Meter` and `Reading`.
"""

import asyncio
import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
import hashlib
import hmac
import json
import logging
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlencode

import aiohttp
from oauthlib import oauth1
from oauthlib.common import generate_nonce, generate_timestamp
from oauthlib.oauth1.rfc5849.signature import base_string_uri
from oauthlib.oauth1.rfc5849.utils import escape

from .endpoints import DEFAULT_BASE_URL
from .errors import (
    AuthError,
    BadRequestError,
    CannotConnectError,
    InvalidResponseError,
    RateLimitedError,
    SmartMeterCloudError,
)
from .models import Medium, Meter, Quantity, Reading

_LOGGER = logging.getLogger(__name__)


def _above_debug(record: logging.LogRecord) -> bool:
    return record.levelno > logging.DEBUG


# oauthlib's debug lines show what a request is signed with, consumer key and
# tokens included: never let them out, whatever level its logger is set to.
logging.getLogger("oauthlib.oauth1.rfc5849").addFilter(_above_debug)

APP_NAME: Final = "Home Assistant Smart Meter Cloud"
DEFAULT_TIMEOUT: Final = 20.0
MAX_CONCURRENT_REQUESTS: Final = 4
# Errors come as text/plain; without it in Accept the API answers 406.
_ACCEPT: Final = "application/json, text/plain;q=0.9"

_MEDIA: Final = {
    "ELECTRICITY": Medium.ELECTRICITY,
    "GAS": Medium.GAS,
    "WATER": Medium.WATER,
    "HEAT": Medium.HEAT,
}
_MANUFACTURERS: Final = {
    "ESY": "EasyMeter",
    "EMH": "EMH metering",
    "ELS": "Elster",
    "ITF": "Itron",
    "LOG": "Landis+Gyr",
    "EFR": "EFR",
}
_ENERGY: Final = 1e10  # raw energy is in 1e-10 kWh
_MILLI: Final = 1e3

# API field -> (quantity, divisor). Models disagree on names: aliases fold here.
_FIELDS: Final[Mapping[str, tuple[Quantity, float]]] = {
    "energy": (Quantity.ENERGY_IMPORT, _ENERGY),
    "energy1": (Quantity.ENERGY_IMPORT_TARIFF_1, _ENERGY),
    "energy2": (Quantity.ENERGY_IMPORT_TARIFF_2, _ENERGY),
    "energy3": (Quantity.ENERGY_IMPORT_TARIFF_3, _ENERGY),
    "energy4": (Quantity.ENERGY_IMPORT_TARIFF_4, _ENERGY),
    "energyOut": (Quantity.ENERGY_EXPORT, _ENERGY),
    "energyOut1": (Quantity.ENERGY_EXPORT_TARIFF_1, _ENERGY),
    "energyOut2": (Quantity.ENERGY_EXPORT_TARIFF_2, _ENERGY),
    "energyOut3": (Quantity.ENERGY_EXPORT_TARIFF_3, _ENERGY),
    "energyOut4": (Quantity.ENERGY_EXPORT_TARIFF_4, _ENERGY),
    "power": (Quantity.POWER, _MILLI),
    "power1": (Quantity.POWER_L1, _MILLI),
    "power2": (Quantity.POWER_L2, _MILLI),
    "power3": (Quantity.POWER_L3, _MILLI),
    "phase1Power": (Quantity.POWER_L1, _MILLI),
    "phase2Power": (Quantity.POWER_L2, _MILLI),
    "phase3Power": (Quantity.POWER_L3, _MILLI),
    "voltage1": (Quantity.VOLTAGE_L1, _MILLI),
    "voltage2": (Quantity.VOLTAGE_L2, _MILLI),
    "voltage3": (Quantity.VOLTAGE_L3, _MILLI),
    "phase1Voltage": (Quantity.VOLTAGE_L1, _MILLI),
    "phase2Voltage": (Quantity.VOLTAGE_L2, _MILLI),
    "phase3Voltage": (Quantity.VOLTAGE_L3, _MILLI),
    "phase1Current": (Quantity.CURRENT_L1, _MILLI),
    "phase2Current": (Quantity.CURRENT_L2, _MILLI),
    "phase3Current": (Quantity.CURRENT_L3, _MILLI),
    "frequency": (Quantity.FREQUENCY, _MILLI),
    "volume": (Quantity.VOLUME, _MILLI),
}

type Resolution = Literal[
    "raw",
    "three_minutes",
    "fifteen_minutes",
    "one_hour",
    "one_day",
    "one_week",
    "one_month",
    "one_year",
]


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


def parse_meter(data: Mapping[str, Any]) -> Meter | None:
    """Return the meter of an API record, or None for a kind we cannot show."""
    medium = _MEDIA.get(str(data.get("measurementType", "")).upper())
    if medium is None:
        return None
    manufacturer_id = str(data.get("manufacturerId", ""))
    return Meter(
        id=str(data["meterId"]),
        medium=medium,
        manufacturer=_MANUFACTURERS.get(manufacturer_id, manufacturer_id or "inexogy"),
        model=str(data.get("type") or manufacturer_id or "Smart meter"),
        serial=str(data.get("fullSerialNumber") or data.get("serialNumber") or ""),
        active=int(data.get("firstMeasurementTime", -1)) >= 0,
        raw=data,
    )


def parse_reading(data: Mapping[str, Any], medium: Medium | None = None) -> Reading:
    """Convert an API reading into canonical units; unknown fields are ignored."""
    values: dict[Quantity, float] = {}
    for key, raw in data["values"].items():
        if (known := _FIELDS.get(key)) is not None and isinstance(raw, int | float):
            quantity, divisor = known
            if medium is Medium.HEAT and quantity is Quantity.ENERGY_IMPORT:
                quantity = Quantity.HEAT_ENERGY  # a heat meter's "energy"
            values[quantity] = raw / divisor
    return Reading(time=datetime.fromtimestamp(data["time"] / 1000, UTC), values=values)


class InexogyClient:
    """Talks to the inexogy API over an injected aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str = DEFAULT_BASE_URL,
        credentials: InexogyCredentials | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        """Use `credentials` from an earlier authorization, or call `authorize`."""
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self.credentials = credentials
        # Known from meters(): a heat meter's energy is heat, not import.
        self._media: dict[str, Medium] = {}
        self._data_signer: DataSigner | None = None

    async def authorize(self, email: str, password: str) -> InexogyCredentials:
        """Run the OAuth 1.0a dance with e-mail and password; keep the tokens."""
        consumer = await self._json("POST", "/oauth1/consumer_token", form=APP_NAME)
        key, secret = str(consumer["key"]), str(consumer["secret"])
        request = await self._form(
            "POST",
            "/oauth1/request_token",
            oauth1.Client(key, secret, callback_uri="oob"),
        )
        verifier = await self._form(
            "GET",
            "/oauth1/authorize",
            params={
                "oauth_token": request["oauth_token"],
                "email": email,
                "password": password,
            },
        )
        access = await self._form(
            "POST",
            "/oauth1/access_token",
            oauth1.Client(
                key,
                secret,
                resource_owner_key=request["oauth_token"],
                resource_owner_secret=request["oauth_token_secret"],
                verifier=verifier["oauth_verifier"],
            ),
        )
        self.credentials = InexogyCredentials(
            key, secret, access["oauth_token"], access["oauth_token_secret"]
        )
        return self.credentials

    async def meters(self) -> list[Meter]:
        """Return every meter of the account that we know how to show."""
        records = await self._json("GET", "/meters", signer=self._signer())
        if not isinstance(records, list):
            raise InvalidResponseError("meters: expected a list")
        meters = []
        for record in records:
            if (meter := parse_meter(record)) is None:
                _LOGGER.debug(
                    "Ignoring meter of type %s", record.get("measurementType")
                )
            else:
                meters.append(meter)
        self._media = {meter.id: meter.medium for meter in meters}
        return meters

    async def last_reading(self, meter_id: str) -> Reading:
        """Return the meter's latest reading."""
        data = await self._json(
            "GET", "/last_reading", params={"meterId": meter_id}, signer=self._signer()
        )
        return _reading(data, self._media.get(meter_id))

    async def latest_readings(
        self, meter_ids: Sequence[str]
    ) -> dict[str, Reading | SmartMeterCloudError]:
        """Return each meter's latest reading, a few requests at a time.

        A meter's own failure is its result; a rejected token or throttling
        concerns the whole account and stops the round.
        """
        results: dict[str, Reading | SmartMeterCloudError] = {}
        queue = iter(meter_ids)

        async def worker() -> None:
            for meter_id in queue:
                try:
                    results[meter_id] = await self.last_reading(meter_id)
                except AuthError, RateLimitedError:
                    raise
                except SmartMeterCloudError as err:
                    results[meter_id] = err

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(MAX_CONCURRENT_REQUESTS, len(meter_ids))):
                    group.create_task(worker())
        except ExceptionGroup as errors:
            raise errors.exceptions[0] from None
        return results

    async def readings(
        self,
        meter_id: str,
        start: datetime,
        end: datetime,
        resolution: Resolution = "one_hour",
    ) -> list[Reading]:
        """Return the meter's readings between two moments at a resolution."""
        data = await self._json(
            "GET",
            "/readings",
            params={
                "meterId": meter_id,
                "from": str(int(start.timestamp() * 1000)),
                "to": str(int(end.timestamp() * 1000)),
                "resolution": resolution,
            },
            signer=self._signer(),
        )
        if not isinstance(data, list):
            raise InvalidResponseError("readings: expected a list")
        medium = self._media.get(meter_id)
        return [_reading(item, medium) for item in data]

    async def history(
        self, meter_id: str, start: datetime, end: datetime
    ) -> list[Reading]:
        """Return the meter's readings at each whole hour from start to end."""
        return await self.readings(meter_id, start, end, "one_hour")

    def _signer(self) -> DataSigner:
        if self.credentials is None:
            raise AuthError("not authorized")
        signer = self._data_signer
        if signer is None or signer.credentials is not self.credentials:
            signer = self._data_signer = DataSigner(self.credentials)
        return signer

    async def _json(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        form: str | None = None,
        signer: oauth1.Client | DataSigner | None = None,
    ) -> Any:
        body = None if form is None else urlencode({"client": form})
        text = await self._request(method, path, params, body, signer)
        try:
            return json.loads(text)
        except ValueError as err:
            raise InvalidResponseError(f"{path}: the answer is not JSON") from err

    async def _form(
        self,
        method: str,
        path: str,
        signer: oauth1.Client | DataSigner | None = None,
        *,
        params: Mapping[str, str] | None = None,
    ) -> dict[str, str]:
        text = await self._request(method, path, params, None, signer)
        return dict(parse_qsl(text.strip()))

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: str | None,
        signer: oauth1.Client | DataSigner | None,
    ) -> str:
        url = self._base_url + path
        headers = {"Accept": _ACCEPT}
        if isinstance(signer, DataSigner):
            headers["Authorization"] = signer.authorization(method, url, params)
        if params:
            url += "?" + "&".join(
                f"{_escape(k)}={_escape(v)}" for k, v in params.items()
            )
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if isinstance(signer, oauth1.Client):
            url, headers, body = signer.sign(url, method, body, headers)
        try:
            async with self._session.request(
                method, url, data=body, headers=headers, timeout=self._timeout
            ) as response:
                text = await response.text()
                status = response.status
                retry_after = response.headers.get("Retry-After")
        except TimeoutError as err:
            raise CannotConnectError(f"{path}: timed out") from err
        except aiohttp.ClientError as err:
            raise CannotConnectError(f"{path}: {type(err).__name__}") from err
        if status < 300:
            return text
        message = _plain(text)
        if status in (401, 403):
            raise AuthError(message)
        if status == 429:
            raise RateLimitedError.from_header(retry_after)
        if 400 <= status < 500:
            raise BadRequestError(message)
        raise CannotConnectError(f"{path}: HTTP {status}")


def _reading(data: Any, medium: Medium | None) -> Reading:
    try:
        return parse_reading(data, medium)
    except (KeyError, TypeError, ValueError, OverflowError) as err:
        raise InvalidResponseError("reading: unexpected shape") from err


def _plain(text: str) -> str:
    """Shorten an error body to one line; HTML pages are not worth quoting."""
    if "<" in text:
        return "(HTML page)"
    return " ".join(text.split())[:200]
