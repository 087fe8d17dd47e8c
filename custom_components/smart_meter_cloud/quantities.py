"""The one table of what each quantity is in Home Assistant.

Its unit, how its sensor shows, whether it only grows (a total, checked for
glitches) and for which media it is consumption (hourly statistics for the
energy dashboard). A new register is a `Quantity`, its parsing in `api/`, a
row here and its translations.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final

from homeassistant.components.sensor import SensorDeviceClass
from homeassistant.const import (
    EntityCategory,
    UnitOfElectricCurrent,
    UnitOfElectricPotential,
    UnitOfEnergy,
    UnitOfFrequency,
    UnitOfPower,
    UnitOfTemperature,
    UnitOfVolume,
    UnitOfVolumeFlowRate,
)
from homeassistant.util.unit_conversion import EnergyConverter, VolumeConverter

from .api.models import Medium, Quantity

ANY_MEDIUM: Final = frozenset(Medium)
# More than any meter measures in an hour: a district heating substation or
# a factory feed stays well below 10 MW and 1,000 m³/h; a total rising
# faster is a glitch of the cloud.
MOST_KWH_PER_HOUR: Final = 10_000.0
MOST_M3_PER_HOUR: Final = 1_000.0


@dataclass(frozen=True, kw_only=True, slots=True)
class QuantityInfo:
    """What a quantity is, in Home Assistant's terms."""

    unit: str
    device_class: SensorDeviceClass
    precision: int
    # Only grows: a lower value, all zeros or a spike is a glitch.
    total: bool = False
    most_per_hour: float = MOST_KWH_PER_HOUR
    # The media whose consumption it is: those get hourly statistics.
    consumption: frozenset[Medium] = frozenset()
    # The media it has a sensor for, and where one medium's sensor is named
    # or classed apart: its translation key and device class.
    media: frozenset[Medium] = ANY_MEDIUM
    kinds: Mapping[Medium, tuple[str, SensorDeviceClass]] = field(default_factory=dict)
    enabled: bool = True
    category: EntityCategory | None = None

    def kind(self, quantity: Quantity, medium: Medium) -> tuple[str, SensorDeviceClass]:
        """The sensor's translation key and device class on a meter of a medium."""
        return self.kinds.get(medium, (quantity.value, self.device_class))


def _energy(
    *, enabled: bool = True, precision: int = 3, consumption: bool = False
) -> QuantityInfo:
    return QuantityInfo(
        unit=UnitOfEnergy.KILO_WATT_HOUR,
        device_class=SensorDeviceClass.ENERGY,
        precision=precision,
        total=True,
        consumption=ANY_MEDIUM if consumption else frozenset(),
        enabled=enabled,
    )


def _phase(device_class: SensorDeviceClass, unit: str, precision: int) -> QuantityInfo:
    """Phase values and frequency: useful for some, noise for most."""
    return QuantityInfo(
        unit=unit, device_class=device_class, precision=precision, enabled=False
    )


def _temperature(category: EntityCategory | None = None) -> QuantityInfo:
    return QuantityInfo(
        unit=UnitOfTemperature.CELSIUS,
        device_class=SensorDeviceClass.TEMPERATURE,
        precision=1,
        category=category,
    )


_W, _V, _A = (
    UnitOfPower.WATT,
    UnitOfElectricPotential.VOLT,
    UnitOfElectricCurrent.AMPERE,
)
_POWER, _VOLTAGE, _CURRENT = (
    SensorDeviceClass.POWER,
    SensorDeviceClass.VOLTAGE,
    SensorDeviceClass.CURRENT,
)

QUANTITIES: Final[Mapping[Quantity, QuantityInfo]] = {
    Quantity.ENERGY_IMPORT: _energy(consumption=True),
    Quantity.ENERGY_IMPORT_TARIFF_1: _energy(enabled=False),
    Quantity.ENERGY_IMPORT_TARIFF_2: _energy(enabled=False),
    Quantity.ENERGY_IMPORT_TARIFF_3: _energy(enabled=False),
    Quantity.ENERGY_IMPORT_TARIFF_4: _energy(enabled=False),
    Quantity.ENERGY_EXPORT: _energy(consumption=True),
    Quantity.ENERGY_EXPORT_TARIFF_1: _energy(enabled=False),
    Quantity.ENERGY_EXPORT_TARIFF_2: _energy(enabled=False),
    Quantity.ENERGY_EXPORT_TARIFF_3: _energy(enabled=False),
    Quantity.ENERGY_EXPORT_TARIFF_4: _energy(enabled=False),
    Quantity.POWER: QuantityInfo(unit=_W, device_class=_POWER, precision=0),
    Quantity.POWER_L1: _phase(_POWER, _W, 0),
    Quantity.POWER_L2: _phase(_POWER, _W, 0),
    Quantity.POWER_L3: _phase(_POWER, _W, 0),
    Quantity.VOLTAGE_L1: _phase(_VOLTAGE, _V, 1),
    Quantity.VOLTAGE_L2: _phase(_VOLTAGE, _V, 1),
    Quantity.VOLTAGE_L3: _phase(_VOLTAGE, _V, 1),
    Quantity.CURRENT_L1: _phase(_CURRENT, _A, 2),
    Quantity.CURRENT_L2: _phase(_CURRENT, _A, 2),
    Quantity.CURRENT_L3: _phase(_CURRENT, _A, 2),
    Quantity.FREQUENCY: _phase(SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ, 2),
    Quantity.VOLUME: QuantityInfo(
        unit=UnitOfVolume.CUBIC_METERS,
        # What circulates through a heat or cooling meter is not consumption.
        device_class=SensorDeviceClass.VOLUME,
        precision=3,
        total=True,
        most_per_hour=MOST_M3_PER_HOUR,
        consumption=frozenset({Medium.GAS, Medium.WATER}),
        media=frozenset({Medium.GAS, Medium.WATER, Medium.HEAT, Medium.COOLING}),
        kinds={
            Medium.GAS: ("gas_volume", SensorDeviceClass.GAS),
            Medium.WATER: ("water_volume", SensorDeviceClass.WATER),
            Medium.HEAT: ("volume", SensorDeviceClass.VOLUME),
            Medium.COOLING: ("volume", SensorDeviceClass.VOLUME),
        },
    ),
    # Heat meters count whole kWh (READY: MWh with three decimals).
    Quantity.HEAT_ENERGY: _energy(precision=0, consumption=True),
    Quantity.COOLING_ENERGY: _energy(precision=0, consumption=True),
    Quantity.FLOW: QuantityInfo(
        unit=UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
        device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
        precision=3,
    ),
    Quantity.FORWARD_TEMPERATURE: _temperature(),
    Quantity.RETURN_TEMPERATURE: _temperature(),
    Quantity.TEMPERATURE_DIFFERENCE: QuantityInfo(
        unit=UnitOfTemperature.KELVIN,
        device_class=SensorDeviceClass.TEMPERATURE_DELTA,
        precision=1,
    ),
    Quantity.WATER_TEMPERATURE: _temperature(),
    # Where the meter hangs, for its frost and heat alarms: about the meter,
    # not about what flows through it.
    Quantity.AMBIENT_TEMPERATURE: _temperature(EntityCategory.DIAGNOSTIC),
}

TOTAL_QUANTITIES: Final = frozenset(q for q, info in QUANTITIES.items() if info.total)
# The unit classes the recorder converts statistics with.
_UNIT_CLASSES: Final[Mapping[str, str]] = {
    UnitOfEnergy.KILO_WATT_HOUR: EnergyConverter.UNIT_CLASS,
    UnitOfVolume.CUBIC_METERS: VolumeConverter.UNIT_CLASS,
}


def is_consumption(quantity: Quantity, medium: Medium) -> bool:
    """Whether a register is consumption the energy dashboard can use."""
    return medium in QUANTITIES[quantity].consumption


def statistic_unit(quantity: Quantity) -> tuple[str, str]:
    """The unit and unit class of a quantity's hourly statistics."""
    unit = QUANTITIES[quantity].unit
    return unit, _UNIT_CLASSES[unit]


def most_per_hour(quantity: Quantity) -> float:
    """More than a meter of this register can measure in an hour, in its unit."""
    return QUANTITIES[quantity].most_per_hour


# What a price can be set for: a tariff per consumption register and medium.
TARIFFS: Final[Mapping[tuple[Quantity, Medium], str]] = {
    (Quantity.ENERGY_IMPORT, Medium.ELECTRICITY): "electricity_import",
    (Quantity.ENERGY_EXPORT, Medium.ELECTRICITY): "electricity_export",
    (Quantity.VOLUME, Medium.GAS): "gas",
    (Quantity.VOLUME, Medium.WATER): "water",
    (Quantity.HEAT_ENERGY, Medium.HEAT): "heat",
    (Quantity.COOLING_ENERGY, Medium.COOLING): "cooling",
}


def tariffs_of(media: Iterable[Medium]) -> list[str]:
    """The tariffs an account's meters of these media can have prices for."""
    kinds = set(media)
    return [name for (_, medium), name in TARIFFS.items() if medium in kinds]


def tariff_unit(tariff: str) -> str:
    """The unit a tariff's price is per."""
    quantity = next(q for (q, _), name in TARIFFS.items() if name == tariff)
    return QUANTITIES[quantity].unit


def price_unit_fits(price_unit: str | None, unit: str) -> bool:
    """Whether a price entity's unit is a currency per the consumption's unit."""
    if not price_unit or "/" not in price_unit:
        return False
    currency, _, per = price_unit.rpartition("/")
    return bool(currency.strip()) and per.strip() == unit
