"""inexogy's meters, readings and appliances: every key, unit and scale of the API.

Pure: a reading is read by its meter's kind where the caller knows it.
"""

from collections.abc import Mapping
from datetime import datetime, timedelta
import logging
import re
from typing import Any, Final

from ..errors import InvalidResponseError
from ..manufacturers import manufacturer_name
from ..models import Appliance, ApplianceRun, Medium, Meter, Quantity, Reading
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


# The cloud's appliance types -> our kinds. /devices and /activities name
# them in English; the published /disaggregation example (2020) in German,
# whose mapping is assumed. Other types keep their own name as a slug.
_APPLIANCE_TYPES: Final[Mapping[str, str]] = {
    "BASE_LOAD": "base_load",
    "REFRIGERATOR": "refrigerator",
    "WASHING_MACHINE": "washing_machine",
    "DISHWASHER": "dishwasher",
    "DRYER": "dryer",
    "OVEN": "oven",
    "WATER_HEATER": "water_heater",
    "FLOW_HEATER": "water_heater",
    "HEAT_PUMP": "heat_pump",
    "ELECTRIC_VEHICLE": "electric_vehicle",
    "E_MOBILITY": "electric_vehicle",
    "GRUNDLAST": "base_load",
    "KÜHLSCHRANK": "refrigerator",
    "WASCHMASCHINE": "washing_machine",
    "SPÜLMASCHINE": "dishwasher",
    "GESCHIRRSPÜLER": "dishwasher",
    "TROCKNER": "dryer",
    "WÄSCHETROCKNER": "dryer",
    "BACKOFEN": "oven",
    "DURCHLAUFERHITZER": "water_heater",
    "WÄRMEPUMPE": "heat_pump",
    "ELEKTROMOBILITÄT": "electric_vehicle",
}
_QUARTER: Final = timedelta(minutes=15)


def parse_appliance(name: Any) -> Appliance | None:
    """The appliance a cloud name such as "DISHWASHER-1" stands for; None for none.

    A name without a number is the type's first.
    """
    if not isinstance(name, str) or not (name := name.strip()):
        return None
    kind_name, dash, number = name.rpartition("-")
    if not dash or not number.isdigit():
        kind_name, number = name, "1"
    key = re.sub(r"[\s-]+", "_", kind_name.strip().upper())
    kind = _APPLIANCE_TYPES.get(key) or re.sub(r"[^a-z0-9]+", "_", key.lower()).strip(
        "_"
    )
    if not kind or int(number) > 999:
        return None
    return Appliance(f"{kind}_{int(number)}", kind, int(number), name)


def parse_appliances(data: Any) -> list[Appliance] | None:
    """The appliances /devices lists; None for an empty list (no disaggregation)."""
    if not isinstance(data, list):
        raise InvalidResponseError("devices: expected a list")
    found = {a.id: a for name in data if (a := parse_appliance(name)) is not None}
    return list(found.values()) or None


def parse_disaggregation(data: Any) -> dict[datetime, dict[str, float]]:
    """Energy (kWh) per appliance id per quarter hour, by the quarter's start.

    Entries that are not a quarter's energies are left out.
    """
    if not isinstance(data, Mapping):
        raise InvalidResponseError("disaggregation: expected an object")
    quarters: dict[datetime, dict[str, float]] = {}
    for key, energies in data.items():
        try:
            moment = moment_of_ms(int(key))
        except ValueError:
            moment = None
        if (
            moment is None
            or moment.timestamp() % 900
            or not isinstance(energies, Mapping)
        ):
            _LOGGER.debug("Ignoring a disaggregation entry of the wrong shape")
            continue
        quarter = quarters.setdefault(moment, {})
        for name, raw in energies.items():
            appliance = parse_appliance(name)
            value = finite(raw)
            if appliance is not None and value is not None and value >= 0:
                quarter[appliance.id] = quarter.get(appliance.id, 0.0) + value / _ENERGY
    return quarters


def whole_hours(
    quarters: Mapping[datetime, Mapping[str, float]],
) -> dict[datetime, dict[str, float]]:
    """Energy (kWh) per appliance id per hour, of hours whose four quarters came."""
    hours: dict[datetime, dict[str, float]] = {}
    starts = {q.replace(minute=0, second=0, microsecond=0) for q in quarters}
    for hour in sorted(starts):
        parts = [quarters.get(hour + i * _QUARTER) for i in range(4)]
        if any(part is None for part in parts):
            continue
        energy: dict[str, float] = {}
        for part in parts:
            for appliance_id, value in (part or {}).items():
                energy[appliance_id] = energy.get(appliance_id, 0.0) + value
        hours[hour] = energy
    return hours


def parse_activities(data: Any) -> list[ApplianceRun]:
    """The runs /activities lists; entries of the wrong shape are left out."""
    if not isinstance(data, list):
        raise InvalidResponseError("activities: expected a list")
    runs = []
    for item in data:
        if not isinstance(item, Mapping):
            continue
        appliance = parse_appliance(item.get("deviceName"))
        start = moment_of_ms(item.get("beginTime"))
        end = moment_of_ms(item.get("endTime"))
        energy = finite(item.get("energy"))
        activity = item.get("activityId")
        if (
            appliance is None
            or start is None
            or end is None
            or end < start
            or energy is None
            or energy < 0
            or not isinstance(activity, int | str)
            or isinstance(activity, bool)
            or not str(activity)
        ):
            _LOGGER.debug("Ignoring an activity of the wrong shape")
            continue
        runs.append(
            ApplianceRun(appliance.id, start, end, energy / _ENERGY, str(activity))
        )
    return runs
