"""The one vocabulary above the provider clients: meters, readings, appliances.

Values are in canonical Home Assistant units: kWh, W, V, A, Hz, m³, m³/h, °C.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Final, Protocol, runtime_checkable

from .errors import SmartMeterCloudError


class Medium(StrEnum):
    """What a meter measures."""

    ELECTRICITY = "electricity"
    GAS = "gas"
    WATER = "water"
    HEAT = "heat"
    COOLING = "cooling"


class Quantity(StrEnum):
    """A measured quantity, in its canonical unit."""

    ENERGY_IMPORT = "energy_import"  # kWh
    ENERGY_IMPORT_TARIFF_1 = "energy_import_tariff_1"
    ENERGY_IMPORT_TARIFF_2 = "energy_import_tariff_2"
    ENERGY_IMPORT_TARIFF_3 = "energy_import_tariff_3"
    ENERGY_IMPORT_TARIFF_4 = "energy_import_tariff_4"
    ENERGY_EXPORT = "energy_export"  # kWh
    ENERGY_EXPORT_TARIFF_1 = "energy_export_tariff_1"
    ENERGY_EXPORT_TARIFF_2 = "energy_export_tariff_2"
    ENERGY_EXPORT_TARIFF_3 = "energy_export_tariff_3"
    ENERGY_EXPORT_TARIFF_4 = "energy_export_tariff_4"
    POWER = "power"  # W, signed: negative is export
    POWER_L1 = "power_l1"
    POWER_L2 = "power_l2"
    POWER_L3 = "power_l3"
    VOLTAGE_L1 = "voltage_l1"  # V
    VOLTAGE_L2 = "voltage_l2"
    VOLTAGE_L3 = "voltage_l3"
    CURRENT_L1 = "current_l1"  # A
    CURRENT_L2 = "current_l2"
    CURRENT_L3 = "current_l3"
    FREQUENCY = "frequency"  # Hz
    VOLUME = "volume"  # m³
    HEAT_ENERGY = "heat_energy"  # kWh
    COOLING_ENERGY = "cooling_energy"  # kWh
    FLOW = "flow"  # m³/h
    FORWARD_TEMPERATURE = "forward_temperature"  # °C
    RETURN_TEMPERATURE = "return_temperature"  # °C
    TEMPERATURE_DIFFERENCE = "temperature_difference"  # K
    WATER_TEMPERATURE = "water_temperature"  # °C
    AMBIENT_TEMPERATURE = "ambient_temperature"  # °C


class Alarm(StrEnum):
    """A condition a meter reports about itself."""

    # Water meters
    DRY = "dry"
    REVERSE_FLOW = "reverse_flow"
    LEAK = "leak"
    BURST = "burst"
    TAMPER = "tamper"
    LOW_BATTERY = "low_battery"
    LOW_AMBIENT_TEMPERATURE = "low_ambient_temperature"
    HIGH_AMBIENT_TEMPERATURE = "high_ambient_temperature"
    NO_CONSUMPTION = "no_consumption"
    # Heat and cooling meters
    NO_SUPPLY_VOLTAGE = "no_supply_voltage"
    EXTERNAL_ALARM = "external_alarm"
    FORWARD_TEMPERATURE_ABOVE_RANGE = "forward_temperature_above_range"
    RETURN_TEMPERATURE_ABOVE_RANGE = "return_temperature_above_range"
    FORWARD_TEMPERATURE_BELOW_RANGE = "forward_temperature_below_range"
    RETURN_TEMPERATURE_BELOW_RANGE = "return_temperature_below_range"
    INVALID_TEMPERATURE_DIFFERENCE = "invalid_temperature_difference"
    AIR_IN_FLOW_SENSOR = "air_in_flow_sensor"
    WRONG_FLOW_DIRECTION = "wrong_flow_direction"
    FLOW_ABOVE_LIMIT = "flow_above_limit"
    LEAK_INPUT_A = "leak_input_a"
    LEAK_INPUT_B = "leak_input_b"


@dataclass(frozen=True, slots=True)
class Meter:
    """A meter of an account, as far as Home Assistant needs to know it."""

    id: str
    medium: Medium
    manufacturer: str
    model: str | None
    serial: str
    active: bool
    # The alarms this kind of meter can raise; empty when it reports none.
    alarms: frozenset[Alarm] = frozenset()
    # The provider's own record, only its harmless values, for diagnostics.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Reading:
    """The values of one meter at one moment."""

    time: datetime
    values: Mapping[Quantity, float]
    # Active alarms and the raw code they came from, for meters that report them.
    alarms: frozenset[Alarm] | None = None
    info_code: int | None = None
    # Registers the meter reports as not known now (a sensor fault), unlike
    # those a partial answer leaves out, which keep their last values.
    unknown: frozenset[Quantity] = frozenset()


class MeterClient(Protocol):
    """What the integration needs of a provider's client."""

    async def meters(self) -> list[Meter]:
        """Return the account's meters."""

    async def latest_readings(
        self, meters: Sequence[Meter]
    ) -> dict[str, Reading | SmartMeterCloudError]:
        """Return each meter's latest reading by its id, or why it has none.

        Raises AuthError and RateLimitedError for the whole account.
        """

    async def history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[Reading]:
        """Return the meter's readings at each whole hour from start to end."""


# The kinds of appliance a cloud's disaggregation tells apart, as far as we
# name them; another kind is kept as the cloud's type, a lowercase slug.
APPLIANCE_KINDS: Final = (
    "base_load",
    "refrigerator",
    "washing_machine",
    "dishwasher",
    "dryer",
    "oven",
    "water_heater",
    "heat_pump",
    "electric_vehicle",
)


@dataclass(frozen=True, slots=True)
class Appliance:
    """An appliance a cloud recognises in a meter's load curve (disaggregation)."""

    # Stable across listings: its kind and number, "dishwasher_1".
    id: str
    kind: str
    number: int
    # The cloud's own name, "DISHWASHER-1": shown for a kind we do not name.
    name: str


@dataclass(frozen=True, slots=True)
class ApplianceRun:
    """One run of an appliance, as the cloud found it afterwards."""

    appliance_id: str
    start: datetime
    end: datetime
    energy: float  # kWh
    # The cloud's id of the run: the same run listed again is no new one.
    run_id: str


@runtime_checkable
class ApplianceClient(Protocol):
    """What a client whose cloud disaggregates a meter's load curve offers."""

    async def appliances(self, meter: Meter) -> list[Appliance] | None:
        """Return the meter's appliances; None when it has no disaggregation."""

    async def appliance_energy(
        self, meter: Meter, start: datetime, end: datetime
    ) -> dict[datetime, dict[str, float]]:
        """Return kWh per appliance id per whole hour from start to end.

        Only hours the cloud published whole: a partial hour is left out.
        """

    async def appliance_runs(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[ApplianceRun]:
        """Return the appliances' runs between two moments."""
