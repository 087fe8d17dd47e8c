"""READY's webhooks: the handshake's HMAC, the pushes and the subscriptions.

Pure: a push is read by the kinds of the meters it names, which the caller
passes; readings and alarms of any other meter are left out.
"""

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
import hashlib
import hmac
import logging
from typing import Any, Final

from ..errors import InvalidResponseError
from ..models import Alarm, Medium, Reading
from .parsing import decode_alarms, parse_info_code, parse_time, valid_readings

_LOGGER = logging.getLogger(__name__)

SIGNATURE_HEADER: Final = "X-Ready-Signature"


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


def parse_data_push(data: Mapping[str, Any], media: Mapping[str, Medium]) -> DataPush:
    """Read a data-webhook body; raises InvalidResponseError when malformed.

    `media` holds the kind of each meter we know: readings and alarms of
    any other meter are left out.
    """
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
            readings = list(valid_readings(data["readings"], media))
            return ReadingsPush(subscription_id, delivery_id, readings)
        if kind == "Alarms":
            return AlarmsPush(subscription_id, delivery_id, _alarms(data, media))
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidResponseError("push: unexpected shape") from err
    raise InvalidResponseError("push: unknown type")


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


def _alarms(
    data: Mapping[str, Any], media: Mapping[str, Medium]
) -> list[tuple[str, datetime, frozenset[Alarm], int]]:
    alarms = []
    for item in data["alarms"]:
        meter_id, code = str(item["meterId"]), parse_info_code(item["infoCode"])
        medium = media.get(meter_id)
        if code is None:
            # One alarm without a code: the others of the push still count.
            _LOGGER.debug("Ignoring an alarm of meter %s with no info code", meter_id)
            continue
        decoded = None if medium is None else decode_alarms(medium, code)
        if decoded is not None:
            alarms.append((meter_id, parse_time(item["timestamp"]), decoded, code))
    return alarms


def parse_subscription_id(data: Any) -> str:
    """Return the id READY gave a new subscription."""
    try:
        return str(data["subscriptionId"])
    except (KeyError, TypeError) as err:
        raise InvalidResponseError("subscription: no id") from err


def parse_subscriptions(data: Any) -> list[Subscription]:
    """Return the webhook subscriptions READY listed."""
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
