"""inexogy (formerly Discovergy) client: OAuth 1.0a and meter readings.

Every inexogy key, unit and scale ends here; callers see `Meter` and `Reading`.
"""

import asyncio
import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
import hashlib
import hmac
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
    InvalidResponseError,
    RateLimitedError,
    SmartMeterCloudError,
)
from .manufacturers import manufacturer_name
from .models import Medium, Meter, Quantity, Reading
from .parsing import finite, load_json, moment_of_ms, record_shape
from .transport import answer, plain, send

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


# Fields of a meter record whose values help to fix a contract assumption.
_SHOWN_FIELDS: Final = frozenset(
    {
        "meterId",
        "manufacturerId",
        "type",
        "measurementType",
        "loadProfileType",
        "scalingFactor",
        "currentScalingFactor",
        "voltageScalingFactor",
        "internalMeters",
        "firstMeasurementTime",
        "lastMeasurementTime",
    }
)


def parse_meter(data: Mapping[str, Any]) -> Meter | None:
    """Return the meter of an API record, or None for a kind we cannot show."""
    medium = _MEDIA.get(str(data.get("measurementType", "")).upper())
    if medium is None:
        return None
    manufacturer_id = str(data.get("manufacturerId") or "")
    # The type is a model family (RLM) or, for some meters, only the medium
    # or the maker again (WATER, EASYMETER): then there is no model to show.
    family = str(data.get("type") or "")
    manufacturer = manufacturer_name(manufacturer_id) or "inexogy"
    model = None if family.upper() in _MEDIA else manufacturer_name(family) or None
    return Meter(
        id=str(data["meterId"]),
        medium=medium,
        manufacturer=manufacturer,
        model=None if model == manufacturer else model,
        serial=str(data.get("fullSerialNumber") or data.get("serialNumber") or ""),
        active=int(data.get("firstMeasurementTime", -1)) >= 0,
        raw=record_shape(data, _SHOWN_FIELDS),
    )


def parse_reading(data: Any, medium: Medium | None = None) -> Reading:
    """Convert an API reading into canonical units; unknown fields are ignored.

    Raises InvalidResponseError for anything else than an object with a
    `values` object and a `time` a meter could report.
    """
    if not isinstance(data, Mapping) or not isinstance(
        fields := data.get("values"), Mapping
    ):
        raise InvalidResponseError("reading: no values")
    if (moment := moment_of_ms(data.get("time"))) is None:
        raise InvalidResponseError("reading: no time a meter could report")
    values: dict[Quantity, float] = {}
    for key, raw in fields.items():
        known = _FIELDS.get(key)
        if known is not None and (value := finite(raw)) is not None:
            quantity, divisor = known
            if medium is Medium.HEAT and quantity is Quantity.ENERGY_IMPORT:
                quantity = Quantity.HEAT_ENERGY  # a heat meter's "energy"
            values[quantity] = value / divisor
    return Reading(time=moment, values=values)


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
        path = "/oauth1/consumer_token"
        consumer = await self._json("POST", path, form=APP_NAME)
        key, secret = _required(consumer, path, "key", "secret")
        path = "/oauth1/request_token"
        answer = await self._form(
            "POST", path, oauth1.Client(key, secret, callback_uri="oob")
        )
        token, token_secret = _required(
            answer, path, "oauth_token", "oauth_token_secret"
        )
        path = "/oauth1/authorize"
        answer = await self._form(
            "GET",
            path,
            params={"oauth_token": token, "email": email, "password": password},
        )
        (verifier,) = _required(answer, path, "oauth_verifier")
        path = "/oauth1/access_token"
        answer = await self._form(
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
        access, access_secret = _required(
            answer, path, "oauth_token", "oauth_token_secret"
        )
        self.credentials = InexogyCredentials(key, secret, access, access_secret)
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
        return parse_reading(data, self._media.get(meter_id))

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
        return [parse_reading(item, medium) for item in data]

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
        return load_json(text, path)

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
        reply = await send(
            self._session,
            method,
            url,
            where=path,
            data=body,
            headers=headers,
            timeout=self._timeout,
        )
        return answer(
            reply, path, content_type=reply.media_type, quote=plain, numbered=False
        )


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
