"""inexogy's meters and readings: every key, unit and scale of the API.

Pure: a reading is read by its meter's kind where the caller knows it.
"""

from collections.abc import Mapping
import logging
from typing import Any, Final

from ..errors import InvalidResponseError
from ..manufacturers import manufacturer_name
from ..models import Medium, Meter, Quantity, Reading
from ..parsing import finite, moment_of_ms, record_shape

_LOGGER = logging.getLogger(__name__)

_MEDIA: Final = {
    "ELECTRICITY": Medium.ELECTRICITY,
    "GAS": Medium.GAS,
    "WATER": Medium.WATER,
    "HEAT": Medium.HEAT,
}
_ENERGY: Final = 1e10  # raw energy is in 1e-10 kWh
_MILLI: Final = 1e3

# API field -> (quantity, divisor). Models disagree on names: aliases fold here.
_FIELDS: Final[Mapping[str, tuple[Quantity, float]]] = {
    "energy": (Quantity.ENERGY_IMPORT, _ENERGY),
    "energy1": (Quantity.ENERGY_IMPORT_TARIFF_1, _ENERGY),
    "energy2": (Quantity.ENERGY_IMPORT_TARIFF_2, _ENERGY),
    "energy3": (Quantity.ENERGY_IMPORT_TARIFF_3, _ENERGY),
    "energy4": (Quantity.ENERGY_IMPORT_TARIFF_4, _ENERGY),
    "energyOut": (Quantity.ENERGY_EXPORT, _ENERGY),
    "energyOut1": (Quantity.ENERGY_EXPORT_TARIFF_1, _ENERGY),
    "energyOut2": (Quantity.ENERGY_EXPORT_TARIFF_2, _ENERGY),
    "energyOut3": (Quantity.ENERGY_EXPORT_TARIFF_3, _ENERGY),
    "energyOut4": (Quantity.ENERGY_EXPORT_TARIFF_4, _ENERGY),
    "power": (Quantity.POWER, _MILLI),
    "power1": (Quantity.POWER_L1, _MILLI),
    "power2": (Quantity.POWER_L2, _MILLI),
    "power3": (Quantity.POWER_L3, _MILLI),
    "phase1Power": (Quantity.POWER_L1, _MILLI),
    "phase2Power": (Quantity.POWER_L2, _MILLI),
    "phase3Power": (Quantity.POWER_L3, _MILLI),
    "voltage1": (Quantity.VOLTAGE_L1, _MILLI),
    "voltage2": (Quantity.VOLTAGE_L2, _MILLI),
    "voltage3": (Quantity.VOLTAGE_L3, _MILLI),
    "phase1Voltage": (Quantity.VOLTAGE_L1, _MILLI),
    "phase2Voltage": (Quantity.VOLTAGE_L2, _MILLI),
    "phase3Voltage": (Quantity.VOLTAGE_L3, _MILLI),
    "phase1Current": (Quantity.CURRENT_L1, _MILLI),
    "phase2Current": (Quantity.CURRENT_L2, _MILLI),
    "phase3Current": (Quantity.CURRENT_L3, _MILLI),
    "frequency": (Quantity.FREQUENCY, _MILLI),
    "volume": (Quantity.VOLUME, _MILLI),
}


# Fields of a meter record whose values help to fix a contract assumption.
_SHOWN_FIELDS: Final = frozenset(
    {
        "meterId",
        "manufacturerId",
        "type",
        "measurementType",
        "loadProfileType",
        "scalingFactor",
        "currentScalingFactor",
        "voltageScalingFactor",
        "internalMeters",
        "firstMeasurementTime",
        "lastMeasurementTime",
    }
)


def parse_meter(data: Mapping[str, Any]) -> Meter | None:
    """Return the meter of an API record, or None for a kind we cannot show."""
    medium = _MEDIA.get(str(data.get("measurementType", "")).upper())
    if medium is None:
        return None
    manufacturer_id = str(data.get("manufacturerId") or "")
    # The type is a model family (RLM) or, for some meters, only the medium
    # or the maker again (WATER, EASYMETER): then there is no model to show.
    family = str(data.get("type") or "")
    manufacturer = manufacturer_name(manufacturer_id) or "inexogy"
    model = None if family.upper() in _MEDIA else manufacturer_name(family) or None
    return Meter(
        id=str(data["meterId"]),
        medium=medium,
        manufacturer=manufacturer,
        model=None if model == manufacturer else model,
        serial=str(data.get("fullSerialNumber") or data.get("serialNumber") or ""),
        active=int(data.get("firstMeasurementTime", -1)) >= 0,
        raw=record_shape(data, _SHOWN_FIELDS),
    )


def parse_reading(data: Any, medium: Medium | None = None) -> Reading:
    """Convert an API reading into canonical units; unknown fields are ignored.

    Raises InvalidResponseError for anything else than an object with a
    `values` object and a `time` a meter could report.
    """
    if not isinstance(data, Mapping) or not isinstance(
        fields := data.get("values"), Mapping
    ):
        raise InvalidResponseError("reading: no values")
    if (moment := moment_of_ms(data.get("time"))) is None:
        raise InvalidResponseError("reading: no time a meter could report")
    values: dict[Quantity, float] = {}
    for key, raw in fields.items():
        known = _FIELDS.get(key)
        if known is not None and (value := finite(raw)) is not None:
            quantity, divisor = known
            if medium is Medium.HEAT and quantity is Quantity.ENERGY_IMPORT:
                quantity = Quantity.HEAT_ENERGY  # a heat meter's "energy"
            values[quantity] = value / divisor
    return Reading(time=moment, values=values)


def parse_meters(records: Any) -> list[Meter]:
    """Return the meters of the account's list that we know how to show."""
    if not isinstance(records, list):
        raise InvalidResponseError("meters: expected a list")
    meters = []
    for record in records:
        if (meter := parse_meter(record)) is None:
            _LOGGER.debug("Ignoring meter of type %s", record.get("measurementType"))
        else:
            meters.append(meter)
    return meters


def parse_readings(data: Any, medium: Medium | None = None) -> list[Reading]:
    """Convert a list of API readings, each as `parse_reading` does."""
    if not isinstance(data, list):
        raise InvalidResponseError("readings: expected a list")
    return [parse_reading(item, medium) for item in data]
