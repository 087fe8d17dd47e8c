"""The inexogy API over REST: meters, latest readings, history and appliances."""

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final, Literal

import aiohttp

from ..endpoints import DEFAULT_BASE_URL
from ..errors import (
    AuthError,
    BadRequestError,
    RateLimitedError,
    SmartMeterCloudError,
)
from ..models import Appliance, ApplianceRun, Medium, Meter, Reading
from ..parsing import load_json
from ..transport import Api, answer, plain, send
from .oauth import (
    DataSigner,
    InexogyCredentials,
    Signer,
    obtain_credentials,
    signed,
)
from .parsing import (
    parse_activities,
    parse_appliances,
    parse_disaggregation,
    parse_meters,
    parse_reading,
    parse_readings,
    whole_hours,
)

DEFAULT_TIMEOUT: Final = 20.0
MAX_CONCURRENT_REQUESTS: Final = 4
# Errors come as text/plain; without it in Accept the API answers 406.
_ACCEPT: Final = "application/json, text/plain;q=0.9"
_HOUR: Final = timedelta(hours=1)

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
        self._api_at = Api.at(session, base_url, timeout)
        self.credentials = credentials
        self._data_signer: DataSigner | None = None

    async def authorize(self, email: str, password: str) -> InexogyCredentials:
        """Run the OAuth 1.0a dance with e-mail and password; keep the tokens."""
        self.credentials = await obtain_credentials(self._request, email, password)
        return self.credentials

    async def meters(self) -> list[Meter]:
        """Return every meter of the account that we know how to show."""
        records = await self._json("GET", "/meters", signer=self._signer())
        return parse_meters(records)

    async def last_reading(
        self, meter_id: str, medium: Medium | None = None
    ) -> Reading:
        """Return the meter's latest reading, read as a meter of its medium.

        The medium tells a heat meter's energy (heat) from an electricity
        meter's (import).
        """
        data = await self._json(
            "GET", "/last_reading", params={"meterId": meter_id}, signer=self._signer()
        )
        return parse_reading(data, medium)

    async def latest_readings(
        self, meters: Sequence[Meter]
    ) -> dict[str, Reading | SmartMeterCloudError]:
        """Return each meter's latest reading, a few requests at a time.

        A meter's own failure is its result; a rejected token or throttling
        concerns the whole account and stops the round.
        """
        results: dict[str, Reading | SmartMeterCloudError] = {}
        queue = iter(meters)

        async def worker() -> None:
            for meter in queue:
                try:
                    results[meter.id] = await self.last_reading(meter.id, meter.medium)
                except AuthError, RateLimitedError:
                    raise
                except SmartMeterCloudError as err:
                    results[meter.id] = err

        try:
            async with asyncio.TaskGroup() as group:
                for _ in range(min(MAX_CONCURRENT_REQUESTS, len(meters))):
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
        medium: Medium | None = None,
    ) -> list[Reading]:
        """Return the meter's readings between two moments at a resolution."""
        data = await self._json(
            "GET",
            "/readings",
            params={
                "meterId": meter_id,
                "from": _ms(start),
                "to": _ms(end),
                "resolution": resolution,
            },
            signer=self._signer(),
        )
        return parse_readings(data, medium)

    async def history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[Reading]:
        """Return the meter's readings at each whole hour from start to end."""
        return await self.readings(meter.id, start, end, "one_hour", meter.medium)

    async def appliances(self, meter: Meter) -> list[Appliance] | None:
        """Return the meter's appliances; None when it has no disaggregation.

        What the API answers for such a meter is not documented: an empty
        list and a refusal (400, 404) are both taken as none.
        """
        try:
            names = await self._json(
                "GET", "/devices", params={"meterId": meter.id}, signer=self._signer()
            )
        except BadRequestError:
            return None
        return parse_appliances(names)

    async def appliance_energy(
        self, meter: Meter, start: datetime, end: datetime
    ) -> dict[datetime, dict[str, float]]:
        """Return kWh per appliance id per whole hour from start to end.

        The API answers quarter hours; an hour with a quarter missing (not
        published yet) is left out, to be asked for again.
        """
        quarters = await self._json(
            "GET",
            "/disaggregation",
            params={"meterId": meter.id, "from": _ms(start), "to": _ms(end)},
            signer=self._signer(),
        )
        return {
            hour: energy
            for hour, energy in whole_hours(parse_disaggregation(quarters)).items()
            if start <= hour and hour + _HOUR <= end
        }

    async def appliance_runs(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[ApplianceRun]:
        """Return the appliances' runs between two moments."""
        runs = await self._json(
            "GET",
            "/activities",
            params={"meterId": meter.id, "from": _ms(start), "to": _ms(end)},
            signer=self._signer(),
        )
        return parse_activities(runs)

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
        signer: Signer | None = None,
    ) -> Any:
        text = await self._request(method, path, params, None, signer)
        return load_json(text, path)

    async def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None,
        body: str | None,
        signer: Signer | None,
    ) -> str:
        headers = {"Accept": _ACCEPT}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        url, headers, body = signed(
            signer, method, self._api_at.base_url + path, params, body, headers
        )
        reply = await send(
            self._api_at.session,
            method,
            url,
            where=path,
            data=body,
            headers=headers,
            timeout=self._api_at.timeout,
        )
        return answer(
            reply, path, content_type=reply.media_type, quote=plain, numbered=False
        )


def _ms(moment: datetime) -> str:
    """A moment as the API's epoch milliseconds."""
    return str(int(moment.timestamp() * 1000))
