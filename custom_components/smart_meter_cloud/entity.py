"""What every meter entity shares: its device and its availability."""

from typing import override

from homeassistant.core import callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api.models import Reading
from .coordinator import SmartMeterCoordinator, device_identifier, entity_unique_id


class MeterEntity(CoordinatorEntity[SmartMeterCoordinator]):
    """An entity of one meter, available while that meter's readings come."""

    _attr_has_entity_name = True

    def __init__(
        self, coordinator: SmartMeterCoordinator, meter_id: str, key: str
    ) -> None:
        """Attach the entity to the meter's device."""
        super().__init__(coordinator)
        meter = coordinator.meters[meter_id]
        provider = coordinator.provider
        self.meter_id = meter_id
        # What the state was last written from: this meter's reading, and
        # whether the entity was available.
        self._written: tuple[Reading | None, bool] | None = None
        self._attr_unique_id = entity_unique_id(provider, meter_id, key)
        self._attr_device_info = DeviceInfo(
            identifiers={device_identifier(provider, meter_id)},
            manufacturer=meter.manufacturer,
            model=meter.model,
            serial_number=meter.serial or None,
            translation_key=f"{meter.medium}_meter",
            # The serial's tail tells meters apart without publishing it.
            translation_placeholders={"id": (meter.serial or meter_id)[-4:]},
        )

    @property
    @override
    def available(self) -> bool:
        """Unavailable while the last poll of this meter failed."""
        data = self.coordinator.data
        return (
            super().available
            and self.meter_id in data.readings
            and self.meter_id not in data.failures
        )

    @callback
    @override
    def _handle_coordinator_update(self) -> None:
        """Write the state only when this meter's reading or availability changed.

        A push or an alarm of a few meters updates the whole coordinator: the
        entities of every other meter would write the same state again.
        """
        written = (self.coordinator.data.readings.get(self.meter_id), self.available)
        if self._written is None or (
            written[0] is not self._written[0] or written[1] != self._written[1]
        ):
            self._written = written
            self.async_write_ha_state()
