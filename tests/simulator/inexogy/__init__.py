"""A faithful fake of the inexogy (formerly Discovergy) cloud API as an aiohttp app.

OAuth 1.0a HMAC-SHA1 signatures are verified for real (with oauthlib); data
endpoints also accept HTTP Basic auth with e-mail and password, as the real API
does. Every value is a pure function of the injected clock, so /last_reading
and /readings agree. Faults (outages, rate limits, revoked tokens, timeouts,
broken JSON, all-zero totals, NaN and the like, readings of the wrong shape,
HTML or nothing with 200, refusals quoting a serial) can be switched on
globally or per meter, and for each step of the authorization. The two-way
electricity meter has appliances (disaggregation: /devices, /disaggregation,
/activities, appliances.py), with switches for what is not documented.

Dev server: ``python -m tests.simulator.inexogy [--host H] [--port P] [--state FILE]``
(``--state`` keeps issued tokens across restarts; tests keep them in memory).

The model (model.py: accounts, meters, readings, faults) is served by the app
(app.py: routes, authorization, answers); cli.py is the dev server.
"""

from .app import BASE_PATH, InexogySimulator
from .appliances import Missing, SimAppliance, demo_appliances
from .cli import main
from .model import (
    ALIAS_METER_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    ELECTRICITY_METER_ID,
    FIRST_MEASUREMENT_MS,
    GAS_METER_ID,
    INACTIVE_METER_ID,
    MAX_READINGS,
    WATER_METER_ID,
    Fault,
    FieldSpec,
    InexogyCloud,
    SimMeter,
    Sum,
    Total,
    WaterUse,
    Wave,
    demo_meters,
)

__all__ = [
    "ALIAS_METER_ID",
    "BASE_PATH",
    "DEMO_EMAIL",
    "DEMO_PASSWORD",
    "ELECTRICITY_METER_ID",
    "FIRST_MEASUREMENT_MS",
    "GAS_METER_ID",
    "INACTIVE_METER_ID",
    "MAX_READINGS",
    "WATER_METER_ID",
    "Fault",
    "FieldSpec",
    "InexogyCloud",
    "InexogySimulator",
    "Missing",
    "SimAppliance",
    "SimMeter",
    "Sum",
    "Total",
    "WaterUse",
    "Wave",
    "demo_appliances",
    "demo_meters",
    "main",
]
