"""What a loaded config entry holds, typed for everything that reads it."""

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .coordinator import SmartMeterCoordinator
from .providers.base import PushReceiver
from .statistics.appliances import ApplianceStatistics
from .statistics.importer import MeterStatistics
from .statistics.watch import LeakWatch


@dataclass(slots=True)
class RuntimeData:
    """An entry's coordinator, statistics and leak watch, and its push receiver."""

    coordinator: SmartMeterCoordinator
    statistics: MeterStatistics
    leaks: LeakWatch
    appliances: ApplianceStatistics
    pushes: PushReceiver | None = None


type SmartMeterConfigEntry = ConfigEntry[RuntimeData]
