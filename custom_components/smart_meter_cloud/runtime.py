"""What a loaded config entry holds, typed for everything that reads it."""

from dataclasses import dataclass

from homeassistant.config_entries import ConfigEntry

from .coordinator import SmartMeterCoordinator
from .providers.base import PushReceiver
from .statistics.appliances import ApplianceStatistics
from .statistics.importer import MeterStatistics


@dataclass(slots=True)
class RuntimeData:
    """An entry's coordinator and statistics, and the receiver of its pushes."""

    coordinator: SmartMeterCoordinator
    statistics: MeterStatistics
    appliances: ApplianceStatistics
    pushes: PushReceiver | None = None


type SmartMeterConfigEntry = ConfigEntry[RuntimeData]
