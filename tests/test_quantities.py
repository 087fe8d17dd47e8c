"""The quantity table: one row per register, every statistic with its unit."""

from homeassistant.components.sensor import SensorDeviceClass
import pytest

from custom_components.smart_meter_cloud.api.models import Medium, Quantity
from custom_components.smart_meter_cloud.quantities import (
    QUANTITIES,
    TOTAL_QUANTITIES,
    is_consumption,
    statistic_unit,
)


def test_every_quantity_has_its_row() -> None:
    assert set(QUANTITIES) == set(Quantity)


@pytest.mark.parametrize("quantity", sorted(Quantity))
def test_consumption_is_a_total_with_a_statistic_unit(quantity: Quantity) -> None:
    """Only what only grows is consumption, and its statistics have a unit."""
    info = QUANTITIES[quantity]
    if info.consumption:
        assert quantity in TOTAL_QUANTITIES
        unit, unit_class = statistic_unit(quantity)
        assert unit == info.unit
        assert unit_class in {"energy", "volume"}
    assert info.consumption <= info.media


def test_a_unit_without_a_statistic_class_is_refused() -> None:
    """A power register has no hourly statistics: it is not answered as kWh."""
    with pytest.raises(KeyError):
        statistic_unit(Quantity.POWER)


def test_what_flows_through_heat_meters_is_no_consumption() -> None:
    assert is_consumption(Quantity.VOLUME, Medium.WATER)
    assert is_consumption(Quantity.VOLUME, Medium.GAS)
    assert not is_consumption(Quantity.VOLUME, Medium.HEAT)
    assert is_consumption(Quantity.HEAT_ENERGY, Medium.HEAT)
    kind = QUANTITIES[Quantity.VOLUME].kind
    assert kind(Quantity.VOLUME, Medium.WATER) == (
        "water_volume",
        SensorDeviceClass.WATER,
    )
    assert kind(Quantity.VOLUME, Medium.HEAT) == ("volume", SensorDeviceClass.VOLUME)
