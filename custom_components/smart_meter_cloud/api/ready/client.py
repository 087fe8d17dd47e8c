"""READY API Access over REST: meters, readings and webhook subscriptions."""

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp

from ..errors import (
    AuthError,
    BadRequestError,
    InvalidResponseError,
    RateLimitedError,
    SmartMeterCloudError,
)
from ..models import Meter, Reading
from ..parsing import load_json
from ..transport import Api, answer, problem, send
from .oauth import TOKEN_URL, AccessToken
from .parsing import parse_meters_page, parse_readings, valid_readings
from .push import Subscription, parse_subscription_id, parse_subscriptions

PAGE_SIZE: Final = 100
BATCH_SIZE: Final = 100
DEFAULT_TIMEOUT: Final = 30.0


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
        self._api_at = Api.at(session, base_url, timeout)
        self._token = AccessToken(
            session,
            token_url=token_url or TOKEN_URL.format(tenant_id=tenant_id),
            client_id=client_id,
            client_secret=client_secret,
            scope=scope or f"{self._api_at.base_url}/.default",
            timeout=self._api_at.timeout,
        )

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
        return parse_meters_page(data)

    async def latest_readings(
        self, meters: Sequence[Meter]
    ) -> dict[str, Reading | SmartMeterCloudError]:
        """Return each meter's latest reading, asking for 100 meters at a time.

        A reading is read by its meter's kind; one of a meter not asked for
        is left out.
        """
        results: dict[str, Reading | SmartMeterCloudError] = {}
        media = {meter.id: meter.medium for meter in meters}
        for batch in _chunks(list(media), BATCH_SIZE):
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
            for meter_id, reading in parse_readings(data, media):
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
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[Reading]:
        """Return the meter's hourly readings between two moments."""
        data = await self._api(
            "GET",
            f"/api/v1/meters/{meter.id}/readings",
            {"from": _iso(start), "to": _iso(end), "resolution": "Hour"},
        )
        media = {meter.id: meter.medium}
        readings = [r for m, r in valid_readings(data, media) if m == meter.id]
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
        return parse_subscription_id(data)

    async def subscriptions(self) -> list[Subscription]:
        """List the client's webhook subscriptions."""
        return parse_subscriptions(
            await self._api("GET", "/api/v1/webhooks/subscriptions")
        )

    async def delete_subscription(self, subscription_id: str) -> None:
        """Delete a webhook subscription; one that is already gone is fine."""
        try:
            await self._api(
                "DELETE", f"/api/v1/webhooks/subscriptions/{subscription_id}"
            )
        except BadRequestError as err:
            if err.status != 404:
                raise

    async def _api(
        self,
        method: str,
        path: str,
        params: Mapping[str, str] | None = None,
        body: Mapping[str, Any] | None = None,
    ) -> Any:
        """Call the API with a fresh token; renew it once if READY rejects it."""
        for attempt in (1, 2):
            token = await self._token.get()
            reply = await send(
                self._api_at.session,
                method,
                self._api_at.base_url + path,
                closed_is_outage=True,
                timeout=self._api_at.timeout,
                params=params,
                json=body,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Accept": "application/json",
                },
            )
            if reply.status == 401 and attempt == 1:
                self._token.forget()
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


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
