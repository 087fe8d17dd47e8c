"""Kamstrup READY API Access client: OAuth2, meters, readings and webhooks.

READY's Swagger is not public. Every assumption about it (paths, field names,
units, the webhook handshake) lives in this package, so that this one package
changes when the real contract is known: the sign-in in `oauth`, units,
registers and alarm tables in `parsing`, the webhooks in `push`, the REST
calls in `client`.
"""

from .client import BATCH_SIZE, DEFAULT_TIMEOUT, PAGE_SIZE, ReadyClient
from .oauth import TOKEN_URL
from .parsing import MANUFACTURER, decode_alarms, parse_meter, parse_reading
from .push import (
    ACTIVE,
    SIGNATURE_HEADER,
    AlarmsPush,
    DataPush,
    ReadingsPush,
    StatusPush,
    Subscription,
    Verification,
    parse_data_push,
    parse_status_push,
    signature_valid,
    verification_hash,
)

__all__ = [
    "ACTIVE",
    "BATCH_SIZE",
    "DEFAULT_TIMEOUT",
    "MANUFACTURER",
    "PAGE_SIZE",
    "SIGNATURE_HEADER",
    "TOKEN_URL",
    "AlarmsPush",
    "DataPush",
    "ReadingsPush",
    "ReadyClient",
    "StatusPush",
    "Subscription",
    "Verification",
    "decode_alarms",
    "parse_data_push",
    "parse_meter",
    "parse_reading",
    "parse_status_push",
    "signature_valid",
    "verification_hash",
]
