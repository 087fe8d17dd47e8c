"""inexogy (formerly Discovergy) client: OAuth 1.0a and meter readings.

Every inexogy key, unit and scale ends here; callers see `Meter` and `Reading`:
the authorization and signing in `oauth`, the meters and readings in
`parsing`, the REST calls in `client`.

Appliances (disaggregation, NILM): inexogy recognises appliances in a
meter's load curve. Known, from a public client's tests
(adriankumpf/discovergy, Elixir, 2020), each request signed like the other
data requests:

- `GET /devices?meterId=` answers a list of names: `["BASE_LOAD-1",
  "DISHWASHER-1"]`.
- `GET /disaggregation?meterId=&from=&to=` (epoch ms, `to` optional)
  answers an object keyed by each quarter hour's start (epoch ms as text),
  each a map of name to energy. That example's names are German
  ("Grundlast-1", "Kühlschrank-1", "Spülmaschine-1", "Durchlauferhitzer-1",
  "Elektromobilität-1"...), unlike the English types of the other two.
- `GET /activities?meterId=&from=&to=` answers a list of runs:
  `activityId`, `beginTime`, `endTime` (epoch ms), `deviceId`,
  `deviceName` ("REFRIGERATOR-1"), `deviceType`, `energy`.

Assumed, and switchable in the simulator where it matters:

- Energy is in 1e-10 kWh, as in the meter's energy registers (the example's
  257,500,000 per quarter is a plausible 103 W base load).
- German names map to the English types (`parsing._APPLIANCE_TYPES`); a type
  we do not know keeps its own name as a slug, so nothing is lost.
- A meter without disaggregation answers `/devices` with an empty list or a
  refusal (400, 404): both mean none.
- Quarters may be published hours late; an hour is taken only once all four
  of its quarters came, and whether `to` is inclusive does not matter:
  only whole hours between `from` and `to` are taken.
- The full list of types, and whether `from` and `to` of `/activities`
  select by a run's begin or end, are not known: runs are asked for with
  some hours of overlap and told apart by their `activityId`.
"""

from .client import (
    DEFAULT_TIMEOUT,
    MAX_CONCURRENT_REQUESTS,
    InexogyClient,
    Resolution,
)
from .oauth import APP_NAME, DataSigner, InexogyCredentials
from .parsing import parse_appliance, parse_meter, parse_reading

__all__ = [
    "APP_NAME",
    "DEFAULT_TIMEOUT",
    "MAX_CONCURRENT_REQUESTS",
    "DataSigner",
    "InexogyClient",
    "InexogyCredentials",
    "Resolution",
    "parse_appliance",
    "parse_meter",
    "parse_reading",
]
