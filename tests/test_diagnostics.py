"""Diagnostics show what was received, with nothing personal or secret in it."""

import json

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component
import pytest
from pytest_homeassistant_custom_component.typing import ClientSessionGenerator
from syrupy.assertion import SnapshotAssertion
from syrupy.filters import props

from custom_components.smart_meter_cloud.providers.inexogy import (
    ID as PROVIDER_INEXOGY,
)
from custom_components.smart_meter_cloud.providers.ready import ID as PROVIDER_READY
from tests.simulator import ready as ready_sim
from tests.simulator.inexogy import DEMO_EMAIL, DEMO_PASSWORD

from .conftest import HALF_PAST, Cloud, Inexogy, Ready, entry_diagnostics, settle


@pytest.mark.freeze_time("2026-11-23T12:00:00+00:00")
@pytest.mark.history_days(30)  # the snapshot's history_start
async def test_diagnostics_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await entry_diagnostics(hass, hass_client, inexogy_entry)
    text = json.dumps(diagnostics)
    public = {"provider", "base_url", "history_start"}
    secrets = [DEMO_EMAIL, DEMO_PASSWORD]
    secrets += [v for k, v in inexogy_entry.data.items() if k not in public]
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
    leaked = [s for s in secrets if s in text]
    assert leaked == []
    # The simulator's port changes from run to run.
    assert diagnostics["entry"]["data"].pop("base_url") == inexogy.url
    assert diagnostics == snapshot(
        exclude=props("entry_id", "created_at", "modified_at")
    )


@pytest.mark.freeze_time(HALF_PAST)
@pytest.mark.history_days(30)  # the snapshot's history_start
async def test_ready_diagnostics_show_payload_shapes(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    ready: Ready,
    ready_entry: ConfigEntry,
    snapshot: SnapshotAssertion,
) -> None:
    await ready.sim.push_readings()
    await ready.sim.push_alarms(ready_sim.WATER_METER_ID, ready_sim.LEAK)
    await settle(hass, ready)
    diagnostics = await entry_diagnostics(hass, hass_client, ready_entry)
    text = json.dumps(diagnostics)
    secrets = [
        ready_sim.DEMO_CLIENT_SECRET,
        ready_sim.DEMO_API_KEY,
        ready_sim.DEMO_TENANT_ID,
        ready_sim.DEMO_CLIENT_ID,
        ready_entry.data["webhook_id"],
        ready_entry.data["status_webhook_id"],
        *ready.sim.subscriptions,
    ]
    for meter in ready.sim.meters:
        info = meter.info()
        secrets += [
            info["serialNumber"],
            info["installation"]["address"],
            info["installation"]["customerNumber"],
        ]
    assert [s for s in secrets if s in text] == []
    pushes = diagnostics["pushes"]
    assert pushes["subscribed"] is True
    assert pushes["status"] == "Active"
    assert set(pushes["last_payloads"]) == {"ReadingsPush", "AlarmsPush", "StatusPush"}
    assert diagnostics["entry"]["data"].pop("base_url") == ready.url
    assert diagnostics == snapshot(
        exclude=props("entry_id", "created_at", "modified_at")
    )


# A field of each cloud's meter record that diagnostics show.
SHOWN = {PROVIDER_INEXOGY: "measurementType", PROVIDER_READY: "meterType"}


@pytest.mark.freeze_time(HALF_PAST)
async def test_unknown_fields_of_a_meter_record_are_redacted(
    hass: HomeAssistant,
    hass_client: ClientSessionGenerator,
    cloud: Cloud,
) -> None:
    """A utility's record carrying more than the contract names."""
    personal = {
        "customerName": "Jane Doe",
        "contactEmail": "jane.doe@example.org",
        "gps": {"lat": 55.67594, "lon": 12.56553},
        "notes": ["key under the mat"],
    }
    meter = cloud.sim.meters[0]
    if isinstance(meter, ready_sim.ReadyMeter):
        meter.extra = personal
        record = meter.info()
    else:
        meter.data.update(personal)
        record = meter.data
    entry = await cloud.add_entry()
    assert await async_setup_component(hass, "diagnostics", {})
    diagnostics = await entry_diagnostics(hass, hass_client, entry)
    text = json.dumps(diagnostics)
    for value in ("Jane Doe", "jane.doe@example.org", "55.67594", "under the mat"):
        assert value not in text
    raw = next(m["raw"] for m in diagnostics["meters"] if "customerName" in m["raw"])
    assert raw["gps"] == {"lat": "**REDACTED**", "lon": "**REDACTED**"}
    shown = SHOWN[cloud.provider]
    assert raw[shown] == record[shown]
