"""inexogy (formerly Discovergy) client: OAuth 1.0a and meter readings.

Every inexogy key, unit and scale ends here; callers see `Meter` and `Reading`:
the authorization and signing in `oauth`, the meters and readings in
`parsing`, the REST calls in `client`.
"""

from .client import (
    DEFAULT_TIMEOUT,
    MAX_CONCURRENT_REQUESTS,
    InexogyClient,
    Resolution,
)
from .oauth import APP_NAME, DataSigner, InexogyCredentials
from .parsing import parse_meter, parse_reading

__all__ = [
    "APP_NAME",
    "DEFAULT_TIMEOUT",
    "MAX_CONCURRENT_REQUESTS",
    "DataSigner",
    "InexogyClient",
    "InexogyCredentials",
    "Resolution",
    "parse_meter",
    "parse_reading",
]
