"""Meter sensors: one per quantity a meter reports, from the quantity table.

And, for a cloud that disaggregates, one per appliance: its energy today.
"""

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from functools import lru_cache
from typing import override

from homeassistant.components.sensor import (
    SensorDeviceClass,
    SensorEntity,
    SensorEntityDescription,
    SensorStateClass,
)
from homeassistant.const import EntityCategory, UnitOfEnergy, UnitOfVolumeFlowRate
from homeassistant.core import callback

from .api.models import Appliance, Medium, Quantity, Reading
from .coordinator import SmartMeterCoordinator
from .entity import LeakEntity, MeterEntity, meter_and_leak_platform
from .ids import appliance_key
from .leaks import Verdict
from .names import appliance_name
from .quantities import QUANTITIES

# Coordinator-driven: no per-entity polling to serialise.
PARALLEL_UPDATES = 0


@dataclass(frozen=True, kw_only=True)
class MeterSensorDescription(SensorEntityDescription):
    """A meter's sensor; `value_fn` picks its value out of a reading."""

    value_fn: Callable[[Reading], float | int | datetime | None]


@lru_cache(maxsize=len(Quantity) * len(Medium))
def quantity_sensor(quantity: Quantity, medium: Medium) -> MeterSensorDescription:
    """The sensor that shows one quantity of a meter of a medium as it is."""
    info = QUANTITIES[quantity]
    translation_key, device_class = info.kind(quantity, medium)
    return MeterSensorDescription(
        key=quantity.value,
        translation_key=translation_key,
        device_class=device_class,
        state_class=(
            SensorStateClass.TOTAL_INCREASING
            if info.total
            else SensorStateClass.MEASUREMENT
        ),
        native_unit_of_measurement=info.unit,
        suggested_display_precision=info.precision,
        entity_registry_enabled_default=info.enabled,
        entity_category=info.category,
        value_fn=lambda reading: reading.values.get(quantity),
    )


def _power_part(quantity: Quantity, direction: str) -> MeterSensorDescription:
    """One direction of a signed power (negative is export), never below zero."""
    info = QUANTITIES[quantity]
    sign = 1.0 if direction == "import" else -1.0

    def value(reading: Reading) -> float | None:
        power = reading.values.get(quantity)
        # 0.0 first: max keeps the first of equals, and -0.0 is no export.
        return None if power is None else max(0.0, sign * power)

    return MeterSensorDescription(
        key=f"{quantity}_{direction}",
        translation_key=f"{quantity}_{direction}",
        device_class=info.device_class,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=info.unit,
        suggested_display_precision=info.precision,
        # For automations such as "export above 2 kW"; the signed power
        # already shows both.
        entity_registry_enabled_default=False,
        value_fn=value,
    )


# Signed power split into what is drawn and what is fed in, both >= 0.
POWER_PARTS: tuple[MeterSensorDescription, ...] = tuple(
    _power_part(quantity, direction)
    for quantity in (
        Quantity.POWER,
        Quantity.POWER_L1,
        Quantity.POWER_L2,
        Quantity.POWER_L3,
    )
    for direction in ("import", "export")
)

# About the reading rather than a register; every meter has them.
READING_SENSORS: tuple[MeterSensorDescription, ...] = (
    MeterSensorDescription(
        key="info_code",
        translation_key="info_code",
        entity_category=EntityCategory.DIAGNOSTIC,
        entity_registry_enabled_default=False,
        value_fn=lambda reading: reading.info_code,
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


# An appliance's energy today; its key becomes the appliance's own.
APPLIANCE_SENSOR = SensorEntityDescription(
    key="appliance",
    translation_key="appliance_today",
    device_class=SensorDeviceClass.ENERGY,
    # No state class: the appliance's hourly statistic, written by the hour
    # the energy was used in, is what the energy dashboard is to pick. Home
    # Assistant would compile a second one from this state, booking hours
    # that arrive late to the hour they arrived in.
    state_class=None,
    native_unit_of_measurement=UnitOfEnergy.KILO_WATT_HOUR,
    suggested_display_precision=2,
)


def meter_sensors(medium: Medium, reading: Reading) -> list[MeterSensorDescription]:
    """The sensors a meter of a medium has for the values of a reading."""
    return [
        *(
            quantity_sensor(quantity, medium)
            for quantity, info in QUANTITIES.items()
            if quantity in reading.values and medium in info.media
        ),
        *(
            d
            for d in (*POWER_PARTS, *READING_SENSORS)
            if d.value_fn(reading) is not None
        ),
    ]


def _new_sensors(
    coordinator: SmartMeterCoordinator,
) -> Callable[[], list[MeterSensor | ApplianceSensor]]:
    """A sensor for every value a meter reports, once it first shows.

    And one for every appliance listed; one no longer listed was removed
    with its entity (the coordinator did), and is added again should it
    come back.
    """
    # Each meter's sensors so far, and the reading they were last looked for in.
    known: dict[str, set[str]] = {}
    looked: dict[str, Reading] = {}
    appliances: dict[str, set[str]] = {}

    def new_sensors() -> list[MeterSensor | ApplianceSensor]:
        # A meter that left took its entities along; should it come back,
        # they are added again.
        for meter_id in known.keys() - coordinator.meters.keys():
            del known[meter_id]
            looked.pop(meter_id, None)
        new: list[MeterSensor | ApplianceSensor] = []
        for meter_id in appliances.keys() - coordinator.appliances.keys():
            del appliances[meter_id]
        for meter_id, found in coordinator.appliances.items():
            if meter_id not in coordinator.meters:
                continue
            have = appliances.setdefault(meter_id, set())
            have.intersection_update(found.appliances)
            for appliance_id, appliance in found.appliances.items():
                if appliance_id not in have:
                    have.add(appliance_id)
                    new.append(ApplianceSensor(coordinator, meter_id, appliance))
        for meter_id, reading in coordinator.data.readings.items():
            # A reading already looked at brings no new value.
            if looked.get(meter_id) is reading:
                continue
            looked[meter_id] = reading
            keys = known.setdefault(meter_id, set())
            medium = coordinator.meters[meter_id].medium
            for description in meter_sensors(medium, reading):
                if description.key not in keys:
                    keys.add(description.key)
                    new.append(MeterSensor(coordinator, meter_id, description))
        return new

    return new_sensors


@dataclass(frozen=True, kw_only=True)
class LeakSensorDescription(SensorEntityDescription):
    """A water meter's sensor of its leak watch; `value_fn` picks from the verdict."""

    value_fn: Callable[[Verdict], float | None]


# What the night minimum rule compares: the latest whole night's smallest hour.
LEAK_SENSORS: tuple[LeakSensorDescription, ...] = (
    LeakSensorDescription(
        key="night_minimum_flow",
        translation_key="night_minimum_flow",
        device_class=SensorDeviceClass.VOLUME_FLOW_RATE,
        state_class=SensorStateClass.MEASUREMENT,
        native_unit_of_measurement=UnitOfVolumeFlowRate.LITERS_PER_HOUR,
        suggested_display_precision=1,
        value_fn=lambda verdict: verdict.night_minimum,
    ),
)


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


class LeakSensor(LeakEntity, SensorEntity):
    """A value of a water meter's leak watch."""

    entity_description: LeakSensorDescription

    @property
    @override
    def native_value(self) -> float | None:
        """Return the value from the hours known now."""
        return self.entity_description.value_fn(self.verdict)


class ApplianceSensor(MeterEntity, SensorEntity):
    """An appliance's energy today, from the whole hours its cloud published.

    Resets at local midnight; hours come late, so it trails the meter.
    """

    def __init__(
        self, coordinator: SmartMeterCoordinator, meter_id: str, appliance: Appliance
    ) -> None:
        """Bind the sensor to its meter's device, named by the appliance."""
        key = appliance_key(appliance.id)
        super().__init__(coordinator, meter_id, replace(APPLIANCE_SENSOR, key=key))
        self.appliance_id = appliance.id
        self._attr_translation_placeholders = {
            "appliance": appliance_name(
                coordinator.hass, appliance.kind, appliance.number, appliance.name
            )
        }
        self._shown: tuple[float | None, bool] | None = None

    @property
    @override
    def native_value(self) -> float | None:
        """Today's energy; unknown until its hours were first read."""
        found = self.coordinator.appliances.get(self.meter_id)
        return None if found is None else found.today.get(self.appliance_id)

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Write the state only when today's energy or availability changed."""
        shown = (self.native_value, self.available)
        if shown != self._shown:
            self._shown = shown
            self.async_write_ha_state()


# Each meter's values, and each water meter's night minimum.
async_setup_entry = meter_and_leak_platform(_new_sensors, LeakSensor, LEAK_SENSORS)
