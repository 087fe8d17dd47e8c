"""What every meter entity shares: its device, availability and enabling."""

from collections.abc import Callable, Coroutine, Sequence
from typing import Any, Final, override

from homeassistant.const import EntityCategory
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import (
    entity_platform,
    entity_registry as er,
    issue_registry as ir,
)
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.entity import Entity, EntityDescription
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback
from homeassistant.helpers.update_coordinator import CoordinatorEntity

from .api.models import Medium, Meter, Reading
from .const import DOMAIN
from .coordinator import SmartMeterCoordinator
from .ids import device_identifier, entity_unique_id, issue_id
from .leaks import Verdict
from .names import device_name_key
from .runtime import SmartMeterConfigEntry
from .statistics.watch import LeakWatch

# The most entities a meter of any kind has enabled by default (a test
# counts them for every demo meter): its registers, some 20, and a today
# sensor per appliance its cloud finds in its load curve, up to about ten.
MAX_ENABLED_PER_METER: Final = 30
ISSUE_ENTITY_LIMIT: Final = "entity_limit"


def large_account(meters: int) -> bool:
    """Whether the meters' entities may not fit in one entry.

    Home Assistant adds at most so many enabled entities per config entry and
    refuses the rest.
    """
    limit: int = entity_platform.MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY
    return meters * MAX_ENABLED_PER_METER > limit


@callback
def async_check_entity_limit(hass: HomeAssistant, entry: SmartMeterConfigEntry) -> None:
    """Raise a repair while the entry is at Home Assistant's entity limit."""
    limit: int = entity_platform.MAX_ENABLED_ENTITIES_PER_CONFIG_ENTRY
    enabled = er.async_get(hass).entities.get_enabled_count_for_config_entry_id(
        entry.entry_id
    )
    issue = issue_id(ISSUE_ENTITY_LIMIT, entry)
    if enabled < limit:
        ir.async_delete_issue(hass, DOMAIN, issue)
        return
    ir.async_create_issue(
        hass,
        DOMAIN,
        issue,
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=ISSUE_ENTITY_LIMIT,
        translation_placeholders={
            "title": entry.title,
            "limit": str(limit),
            "meters": str(len(entry.runtime_data.coordinator.meters)),
        },
    )


def meter_device_info(provider: str, meter: Meter) -> DeviceInfo:
    """The device of a meter, named by its kind in Home Assistant's language."""
    key, placeholders = device_name_key(meter)
    return DeviceInfo(
        identifiers={device_identifier(provider, meter.id)},
        manufacturer=meter.manufacturer,
        model=meter.model,
        serial_number=meter.serial or None,
        translation_key=key,
        translation_placeholders=placeholders,
    )


type PlatformSetup = Callable[
    [HomeAssistant, SmartMeterConfigEntry, AddConfigEntryEntitiesCallback],
    Coroutine[Any, Any, None],
]


def meter_platform(
    finder: Callable[[SmartMeterCoordinator], Callable[[], Sequence[Entity]]],
) -> PlatformSetup:
    """A platform's setup: its entities now, and whenever the data shows new ones.

    `finder` makes, for an entry's coordinator, the function that answers
    the entities not added yet.
    """

    async def async_setup_entry(
        hass: HomeAssistant,
        entry: SmartMeterConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        coordinator = entry.runtime_data.coordinator
        new_entities = finder(coordinator)

        @callback
        def add_new() -> None:
            if new := new_entities():
                async_add_entities(new)

        add_new()
        entry.async_on_unload(coordinator.async_add_listener(add_new))

    return async_setup_entry


class MeterEntity(CoordinatorEntity[SmartMeterCoordinator]):
    """An entity of one meter, available while that meter's readings come."""

    _attr_has_entity_name = True

    def __init__(
        self,
        coordinator: SmartMeterCoordinator,
        meter_id: str,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the meter's device."""
        super().__init__(coordinator)
        meter = coordinator.meters[meter_id]
        provider = coordinator.provider
        key = description.key
        self.meter_id = meter_id
        self.entity_description = description
        # Many meters: what is about the meter itself starts disabled, so that
        # every meter's consumption and leaks fit within the entry's limit.
        if description.entity_category is EntityCategory.DIAGNOSTIC and (
            large_account(len(coordinator.meters))
        ):
            self._attr_entity_registry_enabled_default = False
        # What the state was last written from: this meter's reading, and
        # whether the entity was available.
        self._written: tuple[Reading | None, bool] | None = None
        self._attr_unique_id = entity_unique_id(provider, meter_id, key)
        self._attr_device_info = meter_device_info(provider, meter)

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
        # The same reading object means nothing changed: no deep comparison.
        reading = self.coordinator.data.readings.get(self.meter_id)
        available = self.available
        if (
            self._written is None
            or self._written[0] is not reading
            or self._written[1] != available
        ):
            self._written = (reading, available)
            self.async_write_ha_state()


class LeakEntity(MeterEntity):
    """An entity of a water meter's leak watch, written as its hours arrive."""

    def __init__(
        self,
        coordinator: SmartMeterCoordinator,
        watch: LeakWatch,
        meter_id: str,
        description: EntityDescription,
    ) -> None:
        """Attach the entity to the meter's device and the entry's leak watch."""
        super().__init__(coordinator, meter_id, description)
        self.watch = watch

    @override
    async def async_added_to_hass(self) -> None:
        """Follow the watch's verdicts as well as the coordinator."""
        await super().async_added_to_hass()
        self.async_on_remove(
            self.watch.async_add_listener(self.meter_id, self.async_write_ha_state)
        )

    @property
    def verdict(self) -> Verdict:
        """The meter's verdict from the hours known now."""
        return self.watch.verdict(self.meter_id)


def _new_leak_entities(
    watch: LeakWatch,
    entity: type[LeakEntity],
    descriptions: Sequence[EntityDescription],
) -> Callable[[SmartMeterCoordinator], Callable[[], list[LeakEntity]]]:
    """The leak watch's entities of every water meter, new ones too, once each."""

    def finder(coordinator: SmartMeterCoordinator) -> Callable[[], list[LeakEntity]]:
        known: set[str] = set()

        def new_leak_entities() -> list[LeakEntity]:
            known.intersection_update(coordinator.meters)
            new = [
                meter.id
                for meter in coordinator.meters.values()
                if meter.medium is Medium.WATER and meter.id not in known
            ]
            known.update(new)
            return [
                entity(coordinator, watch, meter_id, description)
                for meter_id in new
                for description in descriptions
            ]

        return new_leak_entities

    return finder


def meter_and_leak_platform(
    finder: Callable[[SmartMeterCoordinator], Callable[[], Sequence[Entity]]],
    leak_entity: type[LeakEntity],
    leak_descriptions: Sequence[EntityDescription],
) -> PlatformSetup:
    """A platform's meter entities, and its leak entities of each water meter."""
    meters = meter_platform(finder)

    async def async_setup_entry(
        hass: HomeAssistant,
        entry: SmartMeterConfigEntry,
        async_add_entities: AddConfigEntryEntitiesCallback,
    ) -> None:
        await meters(hass, entry, async_add_entities)
        leaks = _new_leak_entities(
            entry.runtime_data.leaks, leak_entity, leak_descriptions
        )
        await meter_platform(leaks)(hass, entry, async_add_entities)

    return async_setup_entry
