"""Meter alarms as binary sensors, from one table keyed by alarm, and leak suspicion."""

from collections.abc import Callable, Mapping
from typing import Any, override

from homeassistant.components.binary_sensor import (
    BinarySensorEntity,
    BinarySensorEntityDescription,
)
from homeassistant.components.binary_sensor.const import BinarySensorDeviceClass
from homeassistant.const import EntityCategory

from .api.models import Alarm
from .coordinator import SmartMeterCoordinator
from .entity import LeakEntity, MeterEntity, meter_and_leak_platform

PARALLEL_UPDATES = 0

_DEVICE_CLASSES = {
    Alarm.LEAK: BinarySensorDeviceClass.MOISTURE,
    Alarm.BURST: BinarySensorDeviceClass.MOISTURE,
    Alarm.LEAK_INPUT_A: BinarySensorDeviceClass.MOISTURE,
    Alarm.LEAK_INPUT_B: BinarySensorDeviceClass.MOISTURE,
    Alarm.TAMPER: BinarySensorDeviceClass.TAMPER,
    Alarm.LOW_BATTERY: BinarySensorDeviceClass.BATTERY,
}
# What a household acts on is shown; sensor diagnostics stay in the background.
_PRIMARY = {Alarm.LEAK, Alarm.BURST, Alarm.LEAK_INPUT_A, Alarm.LEAK_INPUT_B}

ALARMS: dict[Alarm, BinarySensorEntityDescription] = {
    alarm: BinarySensorEntityDescription(
        key=alarm.value,
        translation_key=alarm.value,
        device_class=_DEVICE_CLASSES.get(alarm, BinarySensorDeviceClass.PROBLEM),
        entity_category=None if alarm in _PRIMARY else EntityCategory.DIAGNOSTIC,
    )
    for alarm in Alarm
}


def _new_alarm_sensors(
    coordinator: SmartMeterCoordinator,
) -> Callable[[], list[AlarmSensor]]:
    """A binary sensor for every alarm a meter can raise, new meters too."""
    known: set[str] = set()

    def new_alarm_sensors() -> list[AlarmSensor]:
        known.intersection_update(coordinator.meters)
        new = [meter for meter in coordinator.meters.values() if meter.id not in known]
        known.update(meter.id for meter in new)
        return [
            AlarmSensor(coordinator, meter.id, ALARMS[alarm])
            for meter in new
            for alarm in sorted(meter.alarms)
        ]

    return new_alarm_sensors


# Judged from the hourly consumption, for water meters that raise no leak
# bit themselves (or whose utility does not forward it).
LEAK_SENSORS: tuple[BinarySensorEntityDescription, ...] = (
    BinarySensorEntityDescription(
        key="leak_suspected",
        translation_key="leak_suspected",
        device_class=BinarySensorDeviceClass.MOISTURE,
    ),
)


class AlarmSensor(MeterEntity, BinarySensorEntity):
    """On while the meter reports the alarm."""

    def __init__(
        self,
        coordinator: SmartMeterCoordinator,
        meter_id: str,
        description: BinarySensorEntityDescription,
    ) -> None:
        """Bind the sensor to its meter and alarm."""
        super().__init__(coordinator, meter_id, description)
        self._alarm = Alarm(description.key)

    @property
    @override
    def is_on(self) -> bool | None:
        """Return whether the alarm is active in the latest reading."""
        reading = self.coordinator.data.readings.get(self.meter_id)
        if reading is None or reading.alarms is None:
            return None
        return self._alarm in reading.alarms


class LeakSuspected(LeakEntity, BinarySensorEntity):
    """On while the hours show a leak; unknown while too few are known."""

    @property
    @override
    def is_on(self) -> bool | None:
        """Return whether either rule fires."""
        return self.verdict.suspected

    @property
    @override
    def extra_state_attributes(self) -> Mapping[str, Any] | None:
        """Which rule fired, and since when."""
        verdict = self.verdict
        if not verdict.suspected:
            return None
        return {"rule": verdict.rule, "since": verdict.since}


# Each meter's alarms, and each water meter's leak suspicion.
async_setup_entry = meter_and_leak_platform(
    _new_alarm_sensors, LeakSuspected, LEAK_SENSORS
)
