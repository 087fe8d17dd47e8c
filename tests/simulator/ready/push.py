"""READY's webhook pushes: the verification handshake, data and status posts.

The verification POST is deliberately NOT signed (the contract only promises a
signature on data and status requests): a receiver must answer it by the hash
alone. Data and status POSTs carry ``X-Ready-Signature``.
"""

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
import hmac
import json
import logging
import math
import secrets
from typing import Any
import uuid

import aiohttp

from tests.simulator import clock_now
from tests.simulator.server import Server

from .model import (
    _HOUR,
    MAX_READINGS,
    ReadyCloud,
    Subscription,
    _dumps,
    _epoch,
    _iso,
)

_LOGGER = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Ready-Signature"


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


class ReadyPushes(Server, ReadyCloud):
    """The cloud's webhook deliveries; ReadySimulator adds the API they go with."""

    def __init__(
        self, clock: Callable[[], float] = clock_now, meter_count: int = 5
    ) -> None:
        Server.__init__(self, clock)
        ReadyCloud.__init__(self, clock, meter_count)
        self.delivery_timeout = 10.0  # seconds, for every outgoing webhook POST
        self.deliveries: list[Delivery] = []
        self._pending: list[_Pending] = []
        self._session: aiohttp.ClientSession | None = None

    async def stop(self) -> None:
        """Release hanging requests, cancel deliveries in flight, shut down."""
        await super().stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

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
