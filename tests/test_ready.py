"""Kamstrup READY through Home Assistant: flow, handshake, pushes and alarms."""

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
import json
import logging
import secrets
import sys
import types
from typing import Any
from unittest.mock import patch

from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.config_entries import (
    ConfigEntry,
    ConfigEntryState,
    ConfigFlowContext,
)
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import entity_registry as er, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import async_fire_time_changed
from syrupy.assertion import SnapshotAssertion

from custom_components.smart_meter_cloud.const import DOMAIN
from tests.simulator import ready as sim

from .conftest import (
    HALF_PAST,
    Ready,
    add_ready_entry,
    data_schema,
    open_sections,
    our_records,
    push_body,
    push_next_hour,
    settle,
    state,
    suggested_values,
    webhook_post,
)

WATER_VOLUME = "sensor.water_meter_4567_water_volume"
HEAT_ENERGY = "sensor.heat_meter_4501_heat_energy"
LEAK = "binary_sensor.water_meter_4567_leak"
NEXT_HOUR = datetime(2026, 11, 23, 13, tzinfo=UTC)


async def start_ready_flow(hass: HomeAssistant) -> str:
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "kamstrup_ready"}
    )
    assert result["step_id"] == "kamstrup_ready"
    return result["flow_id"]


def readings_body(ready: Ready, hour: Any, delivery_id: str = "manual-1") -> bytes:
    """A MeterReadings push for the water meter at an hour."""
    return push_body(ready, [ready.sim.reading(sim.WATER_METER_ID, hour)], delivery_id)


# --- config flow -----------------------------------------------------------------


async def test_flow_creates_an_entry_and_subscribes(
    hass: HomeAssistant, ready: Ready
) -> None:
    entry = await add_ready_entry(hass, ready)
    assert entry.state is ConfigEntryState.LOADED
    assert entry.unique_id == (
        f"kamstrup_ready_{sim.DEMO_TENANT_ID}_{sim.DEMO_CLIENT_ID}".lower()
    )
    assert entry.data["region"] == "custom"
    assert entry.data["base_url"] == ready.url
    assert sim.DEMO_CLIENT_SECRET not in entry.title
    subscriptions = list(ready.sim.subscriptions.values())
    assert [s.status for s in subscriptions] == ["Active"]
    assert subscriptions[0].webhook_uri.startswith(ready.ha_url + "/api/webhook/")
    verification = next(d for d in ready.sim.deliveries if d.kind == "Verification")
    assert verification.status == 200
    assert state(hass, WATER_VOLUME) not in (STATE_UNAVAILABLE, "unknown")


@pytest.mark.parametrize(
    ("change", "advanced", "error"),
    [
        ({"client_secret": "wrong"}, {}, {"base": "invalid_client"}),
        ({}, {"base_url": "http://127.0.0.1:9"}, {"base": "cannot_connect"}),
        ({}, {"base_url": ""}, {"advanced": "base_url_required"}),
    ],
)
async def test_flow_errors_then_recovery(
    hass: HomeAssistant,
    ready: Ready,
    change: dict[str, Any],
    advanced: dict[str, str],
    error: dict[str, str],
) -> None:
    flow_id = await start_ready_flow(hass)
    user_input = ready.user_input(**change)
    user_input["advanced"] |= advanced
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == error
    # Everything typed comes back, secrets and the unfolded addresses too.
    assert suggested_values(data_schema(result)) == user_input
    assert open_sections(data_schema(result)) == {"advanced"}
    result = await hass.config_entries.flow.async_configure(flow_id, ready.user_input())
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await settle(hass, ready)


async def test_custom_region_without_address_opens_advanced(
    hass: HomeAssistant, ready: Ready
) -> None:
    """Advanced never unfolded: the error unfolds it, nothing typed is lost."""
    flow_id = await start_ready_flow(hass)
    user_input = ready.user_input()
    del user_input["advanced"]
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["errors"] == {"advanced": "base_url_required"}
    assert suggested_values(data_schema(result)) == user_input | {"advanced": {}}
    assert open_sections(data_schema(result)) == {"advanced"}


async def test_flow_server_error_and_no_meters(
    hass: HomeAssistant, ready: Ready
) -> None:
    flow_id = await start_ready_flow(hass)
    ready.sim.fault = sim.Fault.SERVER_ERROR
    result = await hass.config_entries.flow.async_configure(flow_id, ready.user_input())
    assert result["errors"] == {"base": "cannot_connect"}
    ready.sim.fault = sim.Fault.NONE
    ready.sim.meters = []
    result = await hass.config_entries.flow.async_configure(flow_id, ready.user_input())
    assert result["errors"] == {"base": "no_meters"}


async def test_one_entry_per_tenant_and_client(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    flow_id = await start_ready_flow(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, ready.user_input())
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reauth_on_invalid_client(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    webhook_id = ready_entry.data["webhook_id"]
    ready.sim.client_secret = "rotated-secret"
    ready.sim.revoke_tokens()
    freezer.tick(timedelta(hours=1))
    async_fire_time_changed(hass)
    await settle(hass, ready)
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == ["reauth"]
    assert flows[0]["step_id"] == "reauth_confirm"

    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"],
        {"client_secret": "still-wrong", "api_key": sim.DEMO_API_KEY},
    )
    assert result["errors"] == {"base": "invalid_client"}
    assert suggested_values(data_schema(result)) == {
        "client_secret": "still-wrong",
        "api_key": sim.DEMO_API_KEY,
    }
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"],
        {"client_secret": "rotated-secret", "api_key": sim.DEMO_API_KEY},
    )
    assert result["reason"] == "reauth_successful"
    await settle(hass, ready)
    assert ready_entry.data["client_secret"] == "rotated-secret"
    # Same webhooks: the subscription the old secret could not delete is
    # found by its address and replaced, not left pushing into the void.
    assert ready_entry.data["webhook_id"] == webhook_id
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Active"]
    assert ready_entry.state is ConfigEntryState.LOADED
    assert state(hass, WATER_VOLUME) != STATE_UNAVAILABLE


async def test_reconfigure_keeps_the_tenant(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    context: ConfigFlowContext = {
        "source": "reconfigure",
        "entry_id": ready_entry.entry_id,
    }
    result = await hass.config_entries.flow.async_init(DOMAIN, context=context)
    assert result["step_id"] == "reconfigure_kamstrup_ready"
    # The stored tenant is filled in, its secrets are not sent to the browser.
    assert suggested_values(data_schema(result)) == {
        "region": "custom",
        "tenant_id": sim.DEMO_TENANT_ID,
        "client_id": sim.DEMO_CLIENT_ID,
        "advanced": {"base_url": ready.url, "token_url": ready.sim.token_url},
    }
    assert open_sections(data_schema(result)) == {"advanced"}
    # A mistake keeps what was typed, the new secrets too.
    user_input = ready.user_input(client_secret="mistyped-secret")
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input
    )
    assert result["errors"] == {"base": "invalid_client"}
    assert suggested_values(data_schema(result)) == user_input
    hass.config_entries.flow.async_abort(result["flow_id"])

    result = await hass.config_entries.flow.async_init(DOMAIN, context=context)
    ready.sim.client_id = "another-client"
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ready.user_input(client_id="another-client")
    )
    assert result["reason"] == "wrong_account"

    ready.sim.client_id = sim.DEMO_CLIENT_ID
    result = await hass.config_entries.flow.async_init(DOMAIN, context=context)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ready.user_input()
    )
    assert result["reason"] == "reconfigure_successful"
    await settle(hass, ready)
    assert ready_entry.state is ConfigEntryState.LOADED
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Active"]


# --- entities ----------------------------------------------------------------------


@pytest.mark.freeze_time(HALF_PAST)
@pytest.mark.usefixtures("entity_registry_enabled_by_default")
async def test_entities(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    entity_registry: er.EntityRegistry,
    snapshot: SnapshotAssertion,
) -> None:
    entries = er.async_entries_for_config_entry(entity_registry, ready_entry.entry_id)
    assert entries
    for entry in sorted(entries, key=lambda e: e.entity_id):
        assert entry == snapshot(name=f"{entry.entity_id}-entry")
        assert hass.states.get(entry.entity_id) == snapshot(
            name=f"{entry.entity_id}-state"
        )


@pytest.mark.freeze_time(HALF_PAST)
async def test_heat_sensor_fault_hides_temperatures(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    forward = "sensor.heat_meter_4501_forward_temperature"
    assert float(state(hass, forward)) > 0
    ready.sim.set_sensor_fault(sim.HEAT_METER_ID)
    await push_next_hour(hass, ready, freezer)
    assert state(hass, forward) == "unknown"
    assert state(hass, HEAT_ENERGY) not in ("unknown", STATE_UNAVAILABLE)


# --- pushes ------------------------------------------------------------------------


@pytest.mark.freeze_time(HALF_PAST)
async def test_push_changes_states(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    before = float(state(hass, WATER_VOLUME))
    polls = ready.sim.request_count("/api/v1/readings/latest")
    await push_next_hour(hass, ready, freezer)
    assert float(state(hass, WATER_VOLUME)) > before
    # The push, not a poll, brought it.
    assert ready.sim.request_count("/api/v1/readings/latest") == polls
    assert ready.sim.deliveries[-1].status == 200


async def test_alarms_turn_binary_sensors_on_and_off(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    assert state(hass, LEAK) == STATE_OFF
    await ready.sim.push_alarms(sim.WATER_METER_ID, sim.LEAK)
    await settle(hass, ready)
    assert state(hass, LEAK) == STATE_ON
    assert state(hass, "binary_sensor.water_meter_4567_burst") == STATE_OFF
    await ready.sim.push_alarms(sim.WATER_METER_ID, 0)
    await settle(hass, ready)
    assert state(hass, LEAK) == STATE_OFF


@pytest.mark.freeze_time(HALF_PAST)
async def test_rejected_bodies_change_nothing(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    before = state(hass, WATER_VOLUME)
    freezer.tick(timedelta(minutes=40))
    at = NEXT_HOUR
    body = readings_body(ready, at)
    assert await webhook_post(hass, ready, body) == 401  # unsigned
    assert await webhook_post(hass, ready, body, signature="AAAA") == 401
    wrong = sim.ReadySimulator.verification_hash("other-key", body.decode())
    assert await webhook_post(hass, ready, body, signature=wrong) == 401
    garbage = b"{not json"
    assert (
        await webhook_post(hass, ready, garbage, signature=ready.sim.sign(garbage))
        == 400
    )
    huge = b'{"type": "MeterReadings", "pad": "' + b"x" * (17 * 1024 * 1024) + b'"}'
    assert await webhook_post(hass, ready, huge, signature=ready.sim.sign(huge)) == 413
    await hass.async_block_till_done()
    assert state(hass, WATER_VOLUME) == before

    # The same, signed, is applied; sent again it is applied only once.
    assert await webhook_post(hass, ready, body, signature=ready.sim.sign(body)) == 200
    await hass.async_block_till_done()
    applied = state(hass, WATER_VOLUME)
    assert applied != before
    older = readings_body(ready, at - timedelta(hours=2), delivery_id="manual-2")
    assert (
        await webhook_post(hass, ready, older, signature=ready.sim.sign(older)) == 200
    )
    assert await webhook_post(hass, ready, body, signature=ready.sim.sign(body)) == 200
    await hass.async_block_till_done()
    assert state(hass, WATER_VOLUME) == applied


@pytest.mark.freeze_time(HALF_PAST)
async def test_redelivery_after_a_failed_answer(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    before = state(hass, WATER_VOLUME)
    ready.sim.api_key = "a-key-we-do-not-know"  # our answer is 401
    delivery = await push_next_hour(hass, ready, freezer)
    assert ready.sim.deliveries[-1].status == 401
    assert state(hass, WATER_VOLUME) == before
    ready.sim.api_key = sim.DEMO_API_KEY
    assert await ready.sim.redeliver() == 1
    await settle(hass, ready)
    assert ready.sim.deliveries[-1].delivery_id == delivery
    assert ready.sim.deliveries[-1].status == 200
    assert state(hass, WATER_VOLUME) != before


@pytest.mark.freeze_time(HALF_PAST)
async def test_readings_of_other_meters_are_ignored(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    entity_registry: er.EntityRegistry,
    freezer: FrozenDateTimeFactory,
) -> None:
    result = await hass.config_entries.options.async_init(ready_entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 3600, "meters": [sim.HEAT_METER_ID]}
    )
    await settle(hass, ready)
    await push_next_hour(hass, ready, freezer)
    assert hass.states.get(WATER_VOLUME) is None
    assert ready.sim.deliveries[-1].status == 200


async def test_wrong_api_key_fails_the_handshake(
    hass: HomeAssistant, ready: Ready, freezer: FrozenDateTimeFactory
) -> None:
    ready.sim.api_key = "not-the-configured-key"
    entry = await add_ready_entry(hass, ready)
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Failed"]
    # READY's status post is signed with a key we do not hold, so it is
    # refused; asking READY after a minute reveals the failure.
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await settle(hass, ready)
    issue = ir.async_get(hass).async_get_issue(
        DOMAIN, f"subscription_failed_{entry.entry_id}"
    )
    assert issue is not None
    assert issue.translation_placeholders == {"title": entry.title, "status": "Failed"}
    # Polling keeps the meters current meanwhile.
    assert state(hass, WATER_VOLUME) != STATE_UNAVAILABLE

    # The key is fixed in READY Manager; the next attempt succeeds.
    ready.sim.api_key = sim.DEMO_API_KEY
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await settle(hass, ready)
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Active"]
    assert (
        ir.async_get(hass).async_get_issue(
            DOMAIN, f"subscription_failed_{entry.entry_id}"
        )
        is None
    )


async def test_suspended_subscription_is_renewed_with_backoff(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    old = next(iter(ready.sim.subscriptions))
    await ready.sim.post_status(old, "Suspended", "too many failed deliveries")
    await settle(hass, ready)
    issue_id = f"subscription_failed_{ready_entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await settle(hass, ready)
    assert old not in ready.sim.subscriptions
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Active"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_status_posts_are_checked(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    subscription = next(iter(ready.sim.subscriptions))
    body = json.dumps({"subscriptionId": subscription, "status": "Deleted"}).encode()
    assert await webhook_post(hass, ready, body, status=True) == 401
    assert (
        await webhook_post(
            hass, ready, b"[]", signature=ready.sim.sign(b"[]"), status=True
        )
        == 400
    )
    other = json.dumps({"subscriptionId": "someone-else", "status": "Deleted"}).encode()
    assert (
        await webhook_post(
            hass, ready, other, signature=ready.sim.sign(other), status=True
        )
        == 200
    )
    issue_id = f"subscription_failed_{ready_entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_verification_only_for_our_pending_subscription(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    """Answering any challenge would sign a forged push for an attacker."""
    subscription = next(iter(ready.sim.subscriptions))
    forged = json.dumps({"type": "MeterReadings"})
    body = json.dumps(
        {
            "type": "Verification",
            "subscriptionId": subscription,
            "verificationToken": forged,
        }
    ).encode()
    assert await webhook_post(hass, ready, body) == 403


async def test_unload_deletes_the_subscription(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    url = next(iter(ready.sim.subscriptions.values())).webhook_uri
    assert await hass.config_entries.async_unload(ready_entry.entry_id)
    assert ready.sim.subscriptions == {}
    async with ClientSession() as client, client.post(url, data=b"{}") as response:
        # Home Assistant answers unknown webhooks with 200 and ignores them.
        assert response.status == 200


async def test_no_external_url_polls_and_raises_a_repair(
    hass: HomeAssistant, ready: Ready, freezer: FrozenDateTimeFactory
) -> None:
    await hass.config.async_update(external_url=None)
    entry = await add_ready_entry(hass, ready)
    issue_id = f"no_external_url_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
    assert ready.sim.subscriptions == {}
    before = ready.sim.request_count("/api/v1/readings/latest")
    freezer.tick(timedelta(hours=1))
    async_fire_time_changed(hass)
    await settle(hass, ready)
    assert ready.sim.request_count("/api/v1/readings/latest") == before + 1

    # Setting an external URL subscribes without a reload.
    await hass.config.async_update(external_url=ready.ha_url)
    await settle(hass, ready)
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Active"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_subscription_retry_after_a_failed_create(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    old = next(iter(ready.sim.subscriptions))
    ready.sim.fault = sim.Fault.SERVER_ERROR
    await ready.sim.post_status(old, "Deleted", "removed in READY Manager")
    await settle(hass, ready)
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await settle(hass, ready)  # the resubscription fails: READY is down
    assert next(iter(ready.sim.subscriptions.values())).status == "Deleted"

    ready.sim.fault = sim.Fault.NONE
    freezer.tick(timedelta(seconds=121))  # the backoff doubled
    async_fire_time_changed(hass)
    await settle(hass, ready)
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Active"]


async def test_check_retries_while_the_api_is_down(
    hass: HomeAssistant, ready: Ready, freezer: FrozenDateTimeFactory
) -> None:
    ready.sim.api_key = "not-the-configured-key"
    entry = await add_ready_entry(hass, ready)
    ready.sim.fault = sim.Fault.SERVER_ERROR
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await settle(hass, ready)
    issue_id = f"subscription_failed_{entry.entry_id}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    ready.sim.fault = sim.Fault.NONE
    freezer.tick(timedelta(seconds=61))
    async_fire_time_changed(hass)
    await settle(hass, ready)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None


async def test_malformed_but_signed_pushes(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    for body, status in (
        (b'{"type": "MeterReadings"}', False),
        (b'{"status": "Active"}', True),
        (b"[1, 2]", False),
    ):
        signature = ready.sim.sign(body)
        assert (
            await webhook_post(hass, ready, body, signature=signature, status=status)
            == 400
        )


async def test_chunked_oversized_body_is_refused(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    async def chunks() -> Any:
        for _ in range(20):
            yield b"x" * (1024 * 1024)

    url = next(iter(ready.sim.subscriptions.values())).webhook_uri
    async with ClientSession() as client, client.post(url, data=chunks()) as response:
        assert response.status == 413


async def test_cloudhooks_when_home_assistant_cloud_is_active(
    hass: HomeAssistant, ready: Ready
) -> None:
    async def cloudhook(hass: HomeAssistant, webhook_id: str) -> str:
        # The relay would forward to Home Assistant; here it is Home Assistant.
        return f"{ready.ha_url}/api/webhook/{webhook_id}"

    # Home Assistant Cloud's own module needs voice and camera packages that
    # the tests do not install; its two webhook functions stand in for it.
    created: list[str] = []

    async def get_or_create(hass: HomeAssistant, webhook_id: str) -> str:
        created.append(webhook_id)
        return await cloudhook(hass, webhook_id)

    # Signed in to Home Assistant Cloud only after the integration was set up.
    active = False
    listeners: list[Callable[[object], None]] = []

    def listen(
        hass: HomeAssistant, target: Callable[[object], None]
    ) -> Callable[[], None]:
        listeners.append(target)
        return lambda: None

    cloud = types.ModuleType("homeassistant.components.cloud")
    cloud.async_active_subscription = lambda hass: active  # type: ignore[attr-defined]
    cloud.async_get_or_create_cloudhook = get_or_create  # type: ignore[attr-defined]
    cloud.async_listen_connection_change = listen  # type: ignore[attr-defined]
    await hass.config.async_update(external_url=None)
    hass.config.components.add("cloud")
    with patch.dict(sys.modules, {"homeassistant.components.cloud": cloud}):
        entry = await add_ready_entry(hass, ready)
        issue_id = f"no_external_url_{entry.entry_id}"
        assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None
        assert ready.sim.subscriptions == {}

        active = True
        for listener in listeners:
            listener("cloud_connected")
        await settle(hass, ready)
    assert len(created) == 2
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Active"]
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None


async def test_unload_survives_an_unreachable_cloud(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    ready.sim.fault = sim.Fault.SERVER_ERROR
    assert await hass.config_entries.async_unload(ready_entry.entry_id)
    assert ready_entry.state is ConfigEntryState.NOT_LOADED


# --- removal -----------------------------------------------------------------------


class FakeCloud:
    """Home Assistant Cloud's webhook functions, and a relay for its cloudhooks.

    Home Assistant Cloud's own module needs voice and camera packages that the
    tests do not install. As with the real relay, a cloudhook's address does
    not name its webhook; what READY posts to it reaches Home Assistant.
    """

    class CloudNotAvailable(Exception):
        """Home Assistant Cloud is not set up."""

    def __init__(self, ready: Ready) -> None:
        self.ready = ready
        self.active = True  # signed in, with a subscription
        self.hooks: dict[str, str] = {}  # webhook id -> cloudhook address
        self.server = TestServer(web.Application())
        self.server.app.router.add_post("/{token}", self._relay)
        module = types.ModuleType("homeassistant.components.cloud")
        module.CloudNotAvailable = self.CloudNotAvailable  # type: ignore[attr-defined]
        module.async_active_subscription = lambda hass: self.active  # type: ignore[attr-defined]
        module.async_get_or_create_cloudhook = self._get_or_create  # type: ignore[attr-defined]
        module.async_delete_cloudhook = self._delete  # type: ignore[attr-defined]
        module.async_listen_connection_change = (  # type: ignore[attr-defined]
            lambda hass, target: lambda: None
        )
        self.module = module

    async def _get_or_create(self, hass: HomeAssistant, webhook_id: str) -> str:
        if webhook_id not in self.hooks:
            token = secrets.token_hex(16)
            self.hooks[webhook_id] = str(self.server.make_url(f"/{token}"))
        return self.hooks[webhook_id]

    async def _delete(self, hass: HomeAssistant, webhook_id: str) -> None:
        if webhook_id not in self.hooks:
            raise ValueError("Hook is not enabled for the cloud.")  # as hass_nabucasa
        del self.hooks[webhook_id]

    async def _relay(self, request: web.Request) -> web.Response:
        address = str(self.server.make_url(request.path))
        webhook_id = next((w for w, url in self.hooks.items() if url == address), None)
        if webhook_id is None:
            return web.Response(status=404)
        headers = {
            name: value
            for name, value in request.headers.items()
            if name.lower() in ("content-type", "x-ready-signature")
        }
        async with (
            ClientSession() as client,
            client.post(
                f"{self.ready.ha_url}/api/webhook/{webhook_id}",
                data=await request.read(),
                headers=headers,
            ) as answer,
        ):
            return web.Response(
                status=answer.status,
                body=await answer.read(),
                content_type=answer.content_type,
            )


@pytest.fixture
async def fake_cloud(hass: HomeAssistant, ready: Ready) -> AsyncIterator[FakeCloud]:
    """Home Assistant Cloud, signed in: READY gets cloudhooks."""
    cloud = FakeCloud(ready)
    # No access log: it cannot format a frozen clock's local time.
    await cloud.server.start_server(access_log=None)
    hass.config.components.add("cloud")
    with patch.dict(sys.modules, {"homeassistant.components.cloud": cloud.module}):
        yield cloud
    await cloud.server.close()


@pytest.mark.timeout(10)
async def test_settle_returns_when_a_delivery_has_just_ended(ready: Ready) -> None:
    """A delivery that ended in this turn of the loop is still in flight for it."""

    async def delivery() -> None:
        return None

    ready.sim._spawn(delivery())
    await asyncio.sleep(0)  # it ends; leaving the set waits for the loop's next turn
    await ready.sim.settle()
    assert not ready.sim._tasks


async def test_removal_deletes_the_subscription_and_the_cloudhooks(
    hass: HomeAssistant, ready: Ready, fake_cloud: FakeCloud
) -> None:
    entry = await add_ready_entry(hass, ready)
    subscription = next(iter(ready.sim.subscriptions.values()))
    assert subscription.status == "Active"  # verified through the relay
    assert {subscription.webhook_uri, subscription.status_uri} == set(
        fake_cloud.hooks.values()
    )
    await hass.config_entries.async_remove(entry.entry_id)
    await settle(hass, ready)
    assert ready.sim.subscriptions == {}
    assert fake_cloud.hooks == {}


async def _stop_while_ready_is_down(
    hass: HomeAssistant, ready: Ready, entry: ConfigEntry, stopped: str
) -> None:
    """Disable the entry, or have its setup fail: its subscription stays."""
    ready.sim.fault = sim.Fault.SERVER_ERROR
    if stopped == "disabled":
        await hass.config_entries.async_set_disabled_by(
            entry.entry_id, config_entries.ConfigEntryDisabler.USER
        )
        assert entry.state is ConfigEntryState.NOT_LOADED
    else:
        await hass.config_entries.async_reload(entry.entry_id)
        assert entry.state is ConfigEntryState.SETUP_RETRY
    await settle(hass, ready)
    assert [s.status for s in ready.sim.subscriptions.values()] == ["Active"]
    ready.sim.fault = sim.Fault.NONE


@pytest.mark.parametrize(
    ("stopped", "cloudhooks"),
    [("disabled", True), ("setup_failed", True), ("setup_failed", False)],
)
async def test_removal_of_an_entry_that_is_not_loaded(
    hass: HomeAssistant,
    ready: Ready,
    fake_cloud: FakeCloud,
    stopped: str,
    cloudhooks: bool,
) -> None:
    fake_cloud.active = cloudhooks  # else READY pushes to the external URL
    entry = await add_ready_entry(hass, ready)
    subscription = next(iter(ready.sim.subscriptions.values()))
    assert (subscription.webhook_uri in fake_cloud.hooks.values()) is cloudhooks
    await _stop_while_ready_is_down(hass, ready, entry, stopped)

    await hass.config_entries.async_remove(entry.entry_id)
    await settle(hass, ready)
    assert ready.sim.subscriptions == {}
    assert fake_cloud.hooks == {}


async def test_removal_without_home_assistant_cloud(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    await _stop_while_ready_is_down(hass, ready, ready_entry, "disabled")
    await hass.config_entries.async_remove(ready_entry.entry_id)
    await settle(hass, ready)
    assert ready.sim.subscriptions == {}


async def test_removal_goes_on_while_ready_is_unreachable(
    hass: HomeAssistant,
    ready: Ready,
    fake_cloud: FakeCloud,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await add_ready_entry(hass, ready)
    ready.sim.fault = sim.Fault.SERVER_ERROR
    await hass.config_entries.async_remove(entry.entry_id)
    await settle(hass, ready)
    assert hass.config_entries.async_get_entry(entry.entry_id) is None
    assert our_records(caplog, "delete it in READY Manager")
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    # Home Assistant Cloud needs no READY: the cloudhooks go.
    assert fake_cloud.hooks == {}
