"""READY's meters and readings: units, registers and alarm tables.

Pure: a reading is read by the kind of its meter, which the caller knows.
"""

from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from functools import lru_cache
import logging
import math
from typing import Any, Final

from ..errors import InvalidResponseError
from ..manufacturers import manufacturer_name
from ..models import Alarm, Medium, Meter, Quantity, Reading
from ..parsing import finite, plausible, record_shape

_LOGGER = logging.getLogger(__name__)

# READY is Kamstrup's own cloud: it lists no maker.
MANUFACTURER: Final = manufacturer_name("KAM")

_MEDIA: Final = {
    "water": Medium.WATER,
    "heat": Medium.HEAT,
    "heatcooling": Medium.HEAT,
    "cooling": Medium.COOLING,
    "electricity": Medium.ELECTRICITY,
}
_KWH: Final = {"kwh": 1.0, "mwh": 1000.0, "gj": 1e6 / 3600, "wh": 0.001}
_CELSIUS: Final = {"c": 1.0}
# Register -> (quantity, factor into the canonical unit for each unit READY uses).
_REGISTERS: Final[Mapping[str, tuple[Quantity, Mapping[str, float]]]] = {
    "volume": (Quantity.VOLUME, {"m3": 1.0, "l": 0.001}),
    "heatenergy": (Quantity.HEAT_ENERGY, _KWH),
    "coolingenergy": (Quantity.COOLING_ENERGY, _KWH),
    "energy": (Quantity.ENERGY_IMPORT, _KWH),
    "energyexport": (Quantity.ENERGY_EXPORT, _KWH),
    "power": (Quantity.POWER, {"kw": 1000.0, "w": 1.0, "mw": 1e6}),
    "flow": (Quantity.FLOW, {"m3/h": 1.0, "l/h": 0.001}),
    "forwardtemperature": (Quantity.FORWARD_TEMPERATURE, _CELSIUS),
    "returntemperature": (Quantity.RETURN_TEMPERATURE, _CELSIUS),
    "watertemperature": (Quantity.WATER_TEMPERATURE, _CELSIUS),
    "ambienttemperature": (Quantity.AMBIENT_TEMPERATURE, _CELSIUS),
}
# Info code bits: water meters (flowIQ, MULTICAL 21) ...
_WATER_ALARMS: Final = {
    1 << 0: Alarm.DRY,
    1 << 1: Alarm.REVERSE_FLOW,
    1 << 2: Alarm.LEAK,
    1 << 3: Alarm.BURST,
    1 << 4: Alarm.TAMPER,
    1 << 5: Alarm.LOW_BATTERY,
    1 << 6: Alarm.LOW_AMBIENT_TEMPERATURE,
    1 << 7: Alarm.HIGH_AMBIENT_TEMPERATURE,
    1 << 9: Alarm.NO_CONSUMPTION,
}
# ... and heat and cooling meters (MULTICAL 403/603/803) use another table.
_HEAT_ALARMS: Final = {
    1: Alarm.NO_SUPPLY_VOLTAGE,
    2: Alarm.LOW_BATTERY,
    4: Alarm.EXTERNAL_ALARM,
    8: Alarm.FORWARD_TEMPERATURE_ABOVE_RANGE,
    16: Alarm.RETURN_TEMPERATURE_ABOVE_RANGE,
    32: Alarm.FORWARD_TEMPERATURE_BELOW_RANGE,
    64: Alarm.RETURN_TEMPERATURE_BELOW_RANGE,
    128: Alarm.INVALID_TEMPERATURE_DIFFERENCE,
    256: Alarm.AIR_IN_FLOW_SENSOR,
    512: Alarm.WRONG_FLOW_DIRECTION,
    2048: Alarm.FLOW_ABOVE_LIMIT,
    4096: Alarm.LEAK_INPUT_A,
    8192: Alarm.LEAK_INPUT_B,
}
_ALARM_TABLES: Final[Mapping[Medium, Mapping[int, Alarm]]] = {
    Medium.WATER: _WATER_ALARMS,
    Medium.HEAT: _HEAT_ALARMS,
    Medium.COOLING: _HEAT_ALARMS,
}
# A heat meter whose temperature sensor fails reports one of these with no flow.
_SENSOR_FAULT_TEMPERATURES: Final = (0.0, 185.0)
_TEMPERATURES: Final = (
    Quantity.FORWARD_TEMPERATURE,
    Quantity.RETURN_TEMPERATURE,
    Quantity.TEMPERATURE_DIFFERENCE,
)


def decode_alarms(medium: Medium, info_code: int) -> frozenset[Alarm] | None:
    """Decode an info code by the meter's own table; None if it has none."""
    table = _ALARM_TABLES.get(medium)
    if table is None:
        return None
    return frozenset(alarm for mask, alarm in table.items() if info_code & mask)


def parse_info_code(value: Any) -> int | None:
    """Return an info code: a non-negative integer, never true or -1.

    JSON's true is an int to Python, and -1 has every bit set: decoded,
    they would raise alarms no meter reported.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    return None


# Fields of a meter record whose values help to fix a contract assumption.
_SHOWN_FIELDS: Final = frozenset({"meterId", "meterType", "model"})


def parse_meter(data: Mapping[str, Any]) -> Meter | None:
    """Return the meter of an API record, or None for a kind we cannot show."""
    medium = _MEDIA.get(str(data.get("meterType", "")).lower())
    if medium is None:
        return None
    return Meter(
        id=str(data["meterId"]),
        medium=medium,
        manufacturer=MANUFACTURER,
        model=str(data.get("model") or "READY meter"),
        serial=str(data.get("serialNumber") or ""),
        active=True,
        alarms=frozenset(_ALARM_TABLES.get(medium, {}).values()),
        raw=record_shape(data, _SHOWN_FIELDS),
    )


def parse_reading(data: Any, medium: Medium) -> Reading:
    """Convert an API reading into canonical units and decoded alarms.

    A register that is malformed (no object, no finite number) is left out
    and the others kept; a reading without a time a meter could report, or
    whose registers are no list, raises InvalidResponseError.
    """
    if not isinstance(data, Mapping):
        raise InvalidResponseError("reading: not an object")
    try:
        moment = parse_time(data.get("timestamp"))
    except ValueError as err:
        raise InvalidResponseError("reading: no time a meter could report") from err
    registers = data.get("registers")
    if registers is None:
        registers = ()
    elif not isinstance(registers, list):
        raise InvalidResponseError("reading: the registers are no list")
    values: dict[Quantity, float] = {}
    for register in registers:
        if not isinstance(register, Mapping) or (
            (value := finite(register.get("value"))) is None
        ):
            continue
        known = _conversion(
            str(register.get("register", "")), str(register.get("unit", ""))
        )
        if known is not None and math.isfinite(converted := value * known[1]):
            values[known[0]] = converted
    forward = values.get(Quantity.FORWARD_TEMPERATURE)
    back = values.get(Quantity.RETURN_TEMPERATURE)
    if forward is not None and back is not None:
        # Positive in normal operation: heat flows out, cold flows out.
        difference = back - forward if medium is Medium.COOLING else forward - back
        values[Quantity.TEMPERATURE_DIFFERENCE] = round(difference, 2)
    unknown: frozenset[Quantity] = frozenset()
    if medium in (Medium.HEAT, Medium.COOLING) and _sensor_fault(values):
        unknown = frozenset((*_TEMPERATURES, Quantity.FLOW, Quantity.POWER))
        for quantity in unknown:
            values.pop(quantity, None)
    code = parse_info_code(data.get("infoCode"))
    return Reading(
        time=moment,
        values=values,
        alarms=None if code is None else decode_alarms(medium, code),
        info_code=code,
        unknown=unknown,
    )


@lru_cache(maxsize=1024)
def _conversion(register: str, unit: str) -> tuple[Quantity, float] | None:
    """The quantity of a register and the factor into its canonical unit.

    Worked out once per register name and unit: a push of 10,000 readings
    repeats the same few.
    """
    name = register.lower()
    if (known := _REGISTERS.get(name)) is None:
        return None
    quantity, factors = known
    unit = unit.lower().replace("°", "").replace("³", "3")
    if (factor := factors.get(unit)) is None:
        _LOGGER.debug("Ignoring register %s in unknown unit %s", name, unit)
        return None
    return quantity, factor


def _sensor_fault(values: Mapping[Quantity, float]) -> bool:
    temperatures = (
        values.get(Quantity.FORWARD_TEMPERATURE),
        values.get(Quantity.RETURN_TEMPERATURE),
    )
    return values.get(Quantity.FLOW) == 0 and any(
        t in _SENSOR_FAULT_TEMPERATURES for t in temperatures
    )


def parse_time(value: Any) -> datetime:
    """Parse a time READY sends; ValueError if no meter reports it."""
    return _parsed_time(str(value))


@lru_cache(maxsize=4096)
def _parsed_time(value: str) -> datetime:
    """Parse a timestamp once: the readings of a push share a few hours."""
    moment = datetime.fromisoformat(value)
    return plausible(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def parse_meters_page(data: Any) -> tuple[list[Meter], int, int]:
    """Return a page's meters we can show, how many it listed, and the total."""
    try:
        items, total = list(data["items"]), int(data["totalCount"])
    except (KeyError, TypeError, ValueError) as err:
        raise InvalidResponseError("meters: unexpected shape") from err
    meters = []
    for item in items:
        if (meter := _guard(parse_meter, item)) is not None:
            meters.append(meter)
    return meters, len(items), total


def parse_readings(
    data: Any, media: Mapping[str, Medium]
) -> Iterator[tuple[str, Reading | InvalidResponseError]]:
    """Parse the readings of the meters in `media`, each or why it is none.

    A malformed reading fails only the meter it names; a reading of a meter
    whose kind is not known is left out.
    """
    if not isinstance(data, list):
        raise InvalidResponseError("readings: expected a list")
    for item in data:
        meter_id = str(item.get("meterId")) if isinstance(item, dict) else ""
        if (medium := media.get(meter_id)) is not None:
            try:
                yield meter_id, parse_reading(item, medium)
            except InvalidResponseError as err:
                yield meter_id, err


def valid_readings(
    data: Any, media: Mapping[str, Medium]
) -> Iterator[tuple[str, Reading]]:
    """Parse the readings of the meters in `media`; skip malformed ones."""
    for meter_id, reading in parse_readings(data, media):
        if isinstance(reading, Reading):
            yield meter_id, reading
        else:
            _LOGGER.debug("Skipping a reading of meter %s: %s", meter_id, reading)


def _guard[*Ts, T](parse: Callable[[*Ts], T], *args: *Ts) -> T | None:
    """Skip one malformed record instead of failing the whole answer."""
    try:
        return parse(*args)
    except KeyError, TypeError, ValueError, AttributeError:
        _LOGGER.debug("Skipping a malformed record")
        return None
