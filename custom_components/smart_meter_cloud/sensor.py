"""Meter sensors, all from one table keyed by quantity."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
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
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .api.models import Medium, Quantity, Reading
from .coordinator import SmartMeterConfigEntry, SmartMeterCoordinator
from .entity import MeterEntity

# Coordinator-driven: no per-entity polling to serialise.
PARALLEL_UPDATES = 0

ANY_MEDIUM = frozenset(Medium)


@dataclass(frozen=True, kw_only=True)
class MeterSensorDescription(SensorEntityDescription):
    """A sensor of the table; `value_fn` picks its value out of a reading."""

    value_fn: Callable[[Reading], float | int | datetime | None]
    media: frozenset[Medium] = ANY_MEDIUM


def _quantity(
    quantity: Quantity, translation_key: str | None = None, **kwargs: object
) -> MeterSensorDescription:
    """Describe a sensor that shows one quantity as it is."""
    return MeterSensorDescription(
        key=quantity.value,
        translation_key=translation_key or quantity.value,
        value_fn=lambda reading: reading.values.get(quantity),
        **kwargs,  # type: ignore[arg-type]
    )


def _energy(
    quantity: Quantity, *, enabled: bool = True, precision: int = 3
) -> MeterSensorDescription:
    return _quantity(
        quantity,
        device_class=SensorDeviceClass.ENERGY,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
        suggested_display_precision=precision,
        entity_registry_enabled_default=enabled,
    )


def _electric(
    quantity: Quantity, device_class: SensorDeviceClass, unit: str, precision: int
) -> MeterSensorDescription:
    """Phase values and frequency: useful for some, noise for most."""
    return _quantity(
        quantity,
        device_class=device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=unit,
        suggested_display_precision=precision,
        entity_registry_enabled_default=False,
    )


_V, _A, _W = (
    UnitOfElectricPotential.VOLT,
    UnitOfElectricCurrent.AMPERE,
    UnitOfPower.WATT,
)

SENSORS: tuple[MeterSensorDescription, ...] = (
    _energy(Quantity.ENERGY_IMPORT),
    *(
        _energy(q, enabled=False)
        for q in (
            Quantity.ENERGY_IMPORT_TARIFF_1,
            Quantity.ENERGY_IMPORT_TARIFF_2,
            Quantity.ENERGY_IMPORT_TARIFF_3,
            Quantity.ENERGY_IMPORT_TARIFF_4,
        )
    ),
    _energy(Quantity.ENERGY_EXPORT),
    *(
        _energy(q, enabled=False)
        for q in (
            Quantity.ENERGY_EXPORT_TARIFF_1,
            Quantity.ENERGY_EXPORT_TARIFF_2,
            Quantity.ENERGY_EXPORT_TARIFF_3,
            Quantity.ENERGY_EXPORT_TARIFF_4,
        )
    ),
    _quantity(
        Quantity.POWER,
        device_class=SensorDeviceClass.POWER,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=_W,
        suggested_display_precision=0,
    ),
    _electric(Quantity.POWER_L1, SensorDeviceClass.POWER, _W, 0),
    _electric(Quantity.POWER_L2, SensorDeviceClass.POWER, _W, 0),
    _electric(Quantity.POWER_L3, SensorDeviceClass.POWER, _W, 0),
    _electric(Quantity.VOLTAGE_L1, SensorDeviceClass.VOLTAGE, _V, 1),
    _electric(Quantity.VOLTAGE_L2, SensorDeviceClass.VOLTAGE, _V, 1),
    _electric(Quantity.VOLTAGE_L3, SensorDeviceClass.VOLTAGE, _V, 1),
    _electric(Quantity.CURRENT_L1, SensorDeviceClass.CURRENT, _A, 2),
    _electric(Quantity.CURRENT_L2, SensorDeviceClass.CURRENT, _A, 2),
    _electric(Quantity.CURRENT_L3, SensorDeviceClass.CURRENT, _A, 2),
    _electric(
        Quantity.FREQUENCY, SensorDeviceClass.FREQUENCY, UnitOfFrequency.HERTZ, 2
    ),
    _quantity(
        Quantity.VOLUME,
        "gas_volume",
        media=frozenset({Medium.GAS}),
        device_class=SensorDeviceClass.GAS,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
        suggested_display_precision=3,
    ),
    _quantity(
        Quantity.VOLUME,
        "water_volume",
        media=frozenset({Medium.WATER}),
        device_class=SensorDeviceClass.WATER,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
        suggested_display_precision=3,
    ),
    # Heat meters count whole kWh (READY: MWh with three decimals).
    _energy(Quantity.HEAT_ENERGY, precision=0),
    _energy(Quantity.COOLING_ENERGY, precision=0),
    _quantity(
        Quantity.FLOW,
        device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfVolumeFlowRate.CUBIC_METERS_PER_HOUR,
        suggested_display_precision=3,
    ),
    *(
        _quantity(
            q,
            device_class=SensorDeviceClass.TEMPERATURE,
            state_class=SensorStateClass.MEASUREMENT,
            native_unit_of_measurement=UnitOfTemperature.CELSIUS,
            suggested_display_precision=1,
            # Where the meter hangs, for its frost and heat alarms: about
            # the meter, not about what flows through it.
            entity_category=(
                EntityCategory.DIAGNOSTIC if q is Quantity.AMBIENT_TEMPERATURE else None
            ),
        )
        for q in (
            Quantity.FORWARD_TEMPERATURE,
            Quantity.RETURN_TEMPERATURE,
            Quantity.WATER_TEMPERATURE,
            Quantity.AMBIENT_TEMPERATURE,
        )
    ),
    _quantity(
        Quantity.TEMPERATURE_DIFFERENCE,
        device_class=SensorDeviceClass.TEMPERATURE_DELTA,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfTemperature.KELVIN,
        suggested_display_precision=1,
    ),
    MeterSensorDescription(
        key="info_code",
        translation_key="info_code",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.info_code,
    ),
    # What circulates through a heat or cooling meter is not consumption.
    _quantity(
        Quantity.VOLUME,
        "volume",
        media=frozenset({Medium.HEAT, Medium.COOLING}),
        device_class=SensorDeviceClass.VOLUME,
        state_class=SensorStateClass.TOTAL_INCREASING,
        native_unit_of_measurement=UnitOfVolume.CUBIC_METERS,
        suggested_display_precision=3,
    ),
    MeterSensorDescription(
        key="last_reading",
        translation_key="last_reading",
        device_class=SensorDeviceClass.TIMESTAMP,
        entity_category=EntityCategory.DIAGNOSTIC,
        # Changes with every poll: noise in the logbook unless wanted.
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.time,
    ),
)


async def async_setup_entry(
    hass: HomeAssistant,
    entry: SmartMeterConfigEntry,
    async_add_entities: AddConfigEntryEntitiesCallback,
) -> None:
    """Add a sensor for every value a meter reports, now and when it first shows."""
    coordinator = entry.runtime_data.coordinator
    # Each meter's sensors so far, and the reading they were last looked for in.
    known: dict[str, set[str]] = {}
    looked: dict[str, Reading] = {}

    @callback
    def add_new_sensors() -> None:
        # A meter that left took its entities along; should it come back,
        # they are added again.
        for meter_id in known.keys() - coordinator.meters.keys():
            del known[meter_id]
            looked.pop(meter_id, None)
        new = []
        for meter_id, reading in coordinator.data.readings.items():
            # A reading already looked at brings no new value.
            if looked.get(meter_id) is reading:
                continue
            looked[meter_id] = reading
            keys = known.setdefault(meter_id, set())
            medium = coordinator.meters[meter_id].medium
            for description in SENSORS:
                if (
                    description.key not in keys
                    and medium in description.media
                    and description.value_fn(reading) is not None
                ):
                    keys.add(description.key)
                    new.append(MeterSensor(coordinator, meter_id, description))
        if new:
            async_add_entities(new)

    add_new_sensors()
    entry.async_on_unload(coordinator.async_add_listener(add_new_sensors))


class MeterSensor(MeterEntity, SensorEntity):
    """One value of one meter."""

    entity_description: MeterSensorDescription

    def __init__(
        self,
        coordinator: SmartMeterCoordinator,
        meter_id: str,
        description: MeterSensorDescription,
    ) -> None:
        """Bind the sensor to its meter and table row."""
        super().__init__(coordinator, meter_id, description)

    @property
    @override
    def native_value(self) -> float | int | datetime | None:
        """Return the value from the meter's latest good reading."""
        reading = self.coordinator.data.readings.get(self.meter_id)
        return None if reading is None else self.entity_description.value_fn(reading)
