"""A faithful fake of Kamstrup READY API Access as an aiohttp app.

It follows the contract in ``docs/ready-api-contract.md``: OAuth2 client
credentials (Azure AD style token endpoint on the same host), the REST paths
under ``/api/v1``, webhook subscriptions confirmed by an HMAC-SHA256
verification handshake, and signed data and status pushes. Every register value
is a pure function of the injected clock (totals are exact integrals of their
rates, so they never decrease); a meter's infoCode and sensor fault are state
set by tests. Faults (rate limits, outages, hanging requests, rejected client
credentials, NaN and the like, HTML or nothing with 200, refusals quoting
serials) can be switched on globally, and for the token endpoint; a meter's
answered readings can be given a wrong shape or malformed registers.

The verification POST is deliberately NOT signed (the contract only promises a
signature on data and status requests): a receiver must answer it by the hash
alone. Data and status POSTs carry ``X-Ready-Signature``.

Dev server: ``python -m tests.simulator.ready [--host H] [--port P] [--meters N]
[--push-every S]``.

The model (model.py: tenant, meters, registers, tokens, subscriptions,
faults) is served by the app (app.py: routes, sign-in, answers) and sent by
the pushes (push.py: webhook deliveries); cli.py is the dev server.
"""

from .app import (
    API_PATH,
    MAX_LATEST_IDS,
    MAX_PAGE_SIZE,
    SUBSCRIPTIONS_PATH,
    ReadySimulator,
)
from .cli import main
from .model import (
    COOLING_METER_ID,
    DEMO_API_KEY,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT_ID,
    ELECTRICITY_METER_ID,
    HEAT_GJ_METER_ID,
    HEAT_METER_ID,
    LEAK,
    MAX_METERS,
    MAX_READINGS,
    MIN_METERS,
    RESOURCES,
    WATER_METER_ID,
    Fault,
    Hours,
    Integral,
    ReadyCloud,
    ReadyMeter,
    Register,
    Spec,
    Subscription,
    Wave,
    demo_meters,
    generated_meter,
)
from .push import SIGNATURE_HEADER, Delivery, ReadyPushes

__all__ = [
    "API_PATH",
    "COOLING_METER_ID",
    "DEMO_API_KEY",
    "DEMO_CLIENT_ID",
    "DEMO_CLIENT_SECRET",
    "DEMO_TENANT_ID",
    "ELECTRICITY_METER_ID",
    "HEAT_GJ_METER_ID",
    "HEAT_METER_ID",
    "LEAK",
    "MAX_LATEST_IDS",
    "MAX_METERS",
    "MAX_PAGE_SIZE",
    "MAX_READINGS",
    "MIN_METERS",
    "RESOURCES",
    "SIGNATURE_HEADER",
    "SUBSCRIPTIONS_PATH",
    "WATER_METER_ID",
    "Delivery",
    "Fault",
    "Hours",
    "Integral",
    "ReadyCloud",
    "ReadyMeter",
    "ReadyPushes",
    "ReadySimulator",
    "Register",
    "Spec",
    "Subscription",
    "Wave",
    "demo_meters",
    "generated_meter",
    "main",
]
