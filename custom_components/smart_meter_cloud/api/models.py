"""The one vocabulary above the provider clients: media, quantities, meters, readings.

Values are in canonical Home Assistant units: kWh, W, V, A, Hz, m³, m³/h, °C.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

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


# Registers that only ever grow; a lower value is a glitch or a meter change.
TOTAL_QUANTITIES = frozenset(q for q in Quantity if q.startswith(("energy_", "volume")))


@dataclass(frozen=True, slots=True)
class Meter:
    """A meter of an account, as far as Home Assistant needs to know it."""

    id: str
    medium: Medium
    manufacturer: str
    model: str
    serial: str
    active: bool
    # The provider's own record, for redacted diagnostics only.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Reading:
    """The values of one meter at one moment."""

    time: datetime
    values: Mapping[Quantity, float]


class MeterClient(Protocol):
    """What the integration needs of a provider's client."""

    async def meters(self) -> list[Meter]:
        """Return the account's meters."""

    async def latest_readings(
        self, meter_ids: Sequence[str]
    ) -> dict[str, Reading | SmartMeterCloudError]:
        """Return each meter's latest reading, or why it has none.

        Raises AuthError and RateLimitedError for the whole account.
        """
