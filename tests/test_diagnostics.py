"""Diagnostics show what was received, with nothing personal or secret in it."""

import json

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from tests.simulator.inexogy import DEMO_EMAIL, DEMO_PASSWORD

from .conftest import Inexogy


@pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")
async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await get_diagnostics_for_config_entry(
        hass, hass_client, inexogy_entry
    )
    text = json.dumps(diagnostics)
    secrets = [DEMO_EMAIL, DEMO_PASSWORD, *inexogy_entry.data.values()]
    for meter in inexogy.sim.meters:
        data = meter.data
        secrets += [
            data["serialNumber"],
            data["fullSerialNumber"],
            data["printedFullSerialNumber"],
            data["administrationNumber"],
            data["meteringLocationNumber"],
            data["location"]["street"],
            data["location"]["zip"],
        ]
    leaked = [s for s in secrets if s not in ("inexogy", inexogy.url) and s in text]
    assert leaked == []
    # The simulator's port changes from run to run.
    assert diagnostics["entry"]["data"].pop("base_url") == inexogy.url
    assert diagnostics == snapshot(
        exclude=props("entry_id", "created_at", "modified_at")
    )
