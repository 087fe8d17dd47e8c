"""Read what a cloud answers as strictly as Home Assistant reads JSON.

Python's `json` takes `NaN`, `Infinity` and `1e400` (as infinity); Home
Assistant's orjson refuses them. A number that is not finite is no meter
value: it would reach sensors and statistics as `nan` or `inf`.
"""

import json
import math
from typing import Any, Final, NoReturn

from .errors import InvalidResponseError


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
