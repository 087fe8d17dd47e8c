"""Read what a cloud answers strictly; shared by both clients.

JSON as strictly as Home Assistant reads it: Python's `json` takes `NaN`,
`Infinity` and `1e400` (as infinity), Home Assistant's orjson refuses them.
A number that is not finite is no meter value (it would reach sensors and
statistics as `nan` or `inf`), nor is a time no meter could report. An HTML
page or nothing, answered with 200, is not the cloud's answer. And what a
cloud says when it refuses a request is quoted without serial numbers.
"""

from collections.abc import Mapping
from datetime import UTC, datetime
import json
import math
import re
from typing import Any, Final, NoReturn

from .errors import InvalidResponseError

# No meter reports a moment before 1970 or from 2100 on: such a time is
# garbage, and one near the end of `datetime` overflows at the next hour.
EARLIEST: Final = datetime(1970, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(2100, 1, 1, tzinfo=UTC)
_LATEST_MS: Final = LATEST.timestamp() * 1000


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range: {text[:20]}")
    return number


def _no_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


_DECODER: Final = json.JSONDecoder(
    parse_float=_finite_float, parse_constant=_no_constant
)


def load_json(text: str, what: str) -> Any:
    """Decode an answer; InvalidResponseError for anything that is not JSON.

    Non-finite numbers (`NaN`, `Infinity`, `1e400`) make the answer invalid.
    """
    try:
        return _DECODER.decode(text)
    except (ValueError, RecursionError) as err:
        raise InvalidResponseError(f"{what}: the answer is not JSON") from err


def not_the_api(text: str, content_type: str) -> str | None:
    """Say what answered instead of the API, if an answer cannot be the API's.

    An HTML page (a captive portal, a proxy's or a maintenance page) or
    nothing at all: the cloud was not reached, whatever the status says.
    """
    if "html" in content_type.lower() or text.lstrip().startswith("<"):
        return "an HTML page"
    if not text.strip():
        return "an empty answer"
    return None


def finite(value: Any) -> float | None:
    """Return a JSON number as a finite float; None for anything else.

    A bool is no number here, nor an integer too large for a float.
    """
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def moment_of_ms(value: Any) -> datetime | None:
    """Return the moment of epoch milliseconds; None if no meter reports it."""
    ms = finite(value)
    if ms is None or not 0 <= ms < _LATEST_MS:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC)


def plausible(moment: datetime) -> datetime:
    """Return a reading's moment; ValueError if no meter reports it."""
    if not EARLIEST <= moment < LATEST:
        raise ValueError("the time is out of range")
    return moment


# The clouds' own meter ids (a UUID, 32 lowercase hex digits) are no secret
# and stay; every other word is checked on its own.
_WORD: Final = re.compile(
    r"\b(?P<id>[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}|[0-9a-f]{32})\b"
    r"|[0-9A-Za-z]+"
)
# Serial, customer and metering numbers are runs of digits, often behind a
# manufacturer's letters: 1ESY1161229886, 71234567, DE0001...
_SERIAL_DIGITS: Final = 4
_MAX_QUOTED: Final = 200


def _redacted(word: re.Match[str]) -> str:
    text = word[0]
    if word["id"] or sum(c.isdigit() for c in text) < _SERIAL_DIGITS:
        return text
    return "***"


def quote_cloud_text(text: str) -> str:
    """Shorten a cloud's error text to one line, without serial-like numbers.

    A cloud quotes what it refused, a meter's serial number too; the text
    ends up in Home Assistant's log and in issue reports.
    """
    return _WORD.sub(_redacted, " ".join(text.split()))[:_MAX_QUOTED]


# As Home Assistant's diagnostics write a value they leave out.
HIDDEN: Final = "**REDACTED**"


def record_shape(record: Mapping[str, Any], shown: frozenset[str]) -> dict[str, Any]:
    """A cloud's record with only the values of the fields known to be harmless.

    Any other field keeps its name but not its value, whatever the cloud
    calls it: a record may carry a customer's name, a contact or a position.
    """
    return {
        key: record_shape(value, shown)
        if isinstance(value, Mapping)
        else value
        if key in shown
        else HIDDEN
        for key, value in record.items()
    }
