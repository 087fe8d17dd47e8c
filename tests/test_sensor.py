"""Meter sensors: what they show, and how they behave when the cloud does not."""

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import EntityCategory, Platform
from homeassistant.core import HomeAssistant
from homeassistant.helpers import entity_registry as er
import pytest
from pytest_homeassistant_custom_component.common import snapshot_platform
from syrupy.assertion import SnapshotAssertion

from custom_components.smart_meter_cloud import entry as entry_setup

from .conftest import Inexogy, Ready, poll, state


@pytest.fixture
def sensors_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set up the sensor platform alone: a snapshot covers one platform."""
    monkeypatch.setattr(entry_setup, "PLATFORMS", [Platform.SENSOR])


@pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")
@pytest.mark.usefixtures("entity_registry_enabled_by_default", "sensors_only")
async def test_sensors(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    await snapshot_platform(hass, entity_registry, snapshot, inexogy_entry.entry_id)


def _by_role(
    entity_registry: er.EntityRegistry, entry: ConfigEntry
) -> dict[str, set[str]]:
    """Entity ids without their meter, by how a user meets them."""
    roles: dict[str, set[str]] = {"disabled": set(), "diagnostic": set()}
    for entity in er.async_entries_for_config_entry(entity_registry, entry.entry_id):
        name = entity.entity_id.split("_meter_", 1)[1][5:]  # past "1234_"
        if entity.disabled_by is er.RegistryEntryDisabler.INTEGRATION:
            roles["disabled"].add(name)
        if entity.entity_category is EntityCategory.DIAGNOSTIC:
            roles["diagnostic"].add(name)
        if entity.disabled_by is None and entity.entity_category is None:
            roles.setdefault("primary", set()).add(name)
    return roles


async def test_what_inexogy_meters_show(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    # Totals and power first; phase values, empty tariff registers and a
    # timestamp that changes with every poll only when wanted.
    assert _by_role(entity_registry, inexogy_entry) == {
        "primary": {
            "energy_import",
            "energy_export",
            "power",
            "gas_volume",
            "water_volume",
            "leak_suspected",
            "night_minimum_flow",
            # The two-way meter's appliances, from the cloud's disaggregation.
            *(
                f"{kind}_1_today"
                for kind in (
                    "base_load",
                    "refrigerator",
                    "heat_pump",
                    "washing_machine",
                    "dishwasher",
                )
            ),
        },
        "disabled": {
            "energy_export_tariff_1",
            "energy_export_tariff_2",
            "energy_import_tariff_1",
            "energy_import_tariff_2",
            "last_reading",
            *(f"{kind}_phase_{i}" for kind in ("power", "voltage") for i in (1, 2, 3)),
            *(
                f"power_{direction}{phase}"
                for direction in ("import", "export")
                for phase in ("", "_phase_1", "_phase_2", "_phase_3")
            ),
            *(f"current_phase_{i}" for i in (1, 2, 3)),
        },
        "diagnostic": {"last_reading"},
    }


async def test_what_ready_meters_show(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    # Consumption, flows and temperatures of the medium first; the meter's
    # own state (its surroundings, battery, sensor alarms) as diagnostics;
    # the raw info code, decoded into alarms anyway, only when wanted.
    roles = _by_role(entity_registry, ready_entry)
    assert roles["disabled"] == {
        "info_code",
        "last_reading",
        "power_export",
        "power_import",
    }
    assert roles["primary"] == {
        "burst",
        "cooling_energy",
        "energy_export",
        "energy_import",
        "flow",
        "forward_temperature",
        "heat_energy",
        "leak",
        "leak_input_a",
        "leak_input_b",
        "leak_suspected",
        "night_minimum_flow",
        "power",
        "return_temperature",
        "temperature_difference",
        "volume",
        "water_temperature",
        "water_volume",
    }
    assert {
        "ambient_temperature",
        "battery",
        "info_code",
        "last_reading",
        "tamper",
        "supply_voltage",
    } <= roles["diagnostic"]


@pytest.mark.freeze_time("2026-11-23T00:00:00+00:00")
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_power_split_into_import_and_export(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    # The demo meter draws at night and feeds in around midday (UTC).
    meter = "sensor.electricity_meter_3456_power"
    seen = {"import": 0.0, "export": 0.0}
    for _ in range(2):
        for phase in ("", "_phase_1", "_phase_2", "_phase_3"):
            signed = float(state(hass, f"{meter}{phase}"))
            drawn = float(state(hass, f"{meter}_import{phase}"))
            fed_in = float(state(hass, f"{meter}_export{phase}"))
            assert (drawn, fed_in) == (max(signed, 0.0), max(-signed, 0.0))
            seen["import"] = max(seen["import"], drawn)
            seen["export"] = max(seen["export"], fed_in)
        await poll(hass, freezer, 12 * 3600)
    assert seen["import"] > 0
    assert seen["export"] > 0
