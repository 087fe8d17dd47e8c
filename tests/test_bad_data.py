"""Bad data from a cloud or a push: history, alarms and devices stay right."""

import asyncio
from datetime import UTC, datetime, timedelta
import itertools
import json
from typing import Any

from aiohttp import ClientSession
from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_ON, STATE_UNAVAILABLE, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from multidict import CIMultiDict
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_block_recorder,
)

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.statistics.rows import Anchor, hourly_rows
from tests.simulator import ready as ready_sim
from tests.simulator.inexogy import ELECTRICITY_METER_ID, Fault

from .conftest import (
    HALF_PAST,
    IMPORT_ID,
    T0,
    WATER_ID,
    H,
    Inexogy,
    Ready,
    assert_changes_add_up,
    assert_consistent,
    assert_hourly,
    our_records,
    poll,
    post_signed,
    push_body,
    ready_statistic_id,
    settle,
    state,
    statistic_rows,
    webhook_post,
)

ENERGY = "sensor.electricity_meter_3456_energy_import"
POWER = "sensor.electricity_meter_3456_power"
LEAK = "binary_sensor.water_meter_4567_leak"


# --- spikes --------------------------------------------------------------------------


def test_a_spike_that_comes_back_is_skipped() -> None:
    points = {T0 + H: 101.0, T0 + 2 * H: 1e30, T0 + 3 * H: 103.0}
    rows, anchor = hourly_rows(Anchor(T0, 100.0, 0.0), points, 50.0)
    assert [(r["state"], r["sum"]) for r in rows] == [
        (101.0, 1.0),
        (102.0, 2.0),
        (103.0, 3.0),
    ]
    assert anchor == Anchor(T0 + 3 * H, 103.0, 3.0)


def test_a_jump_that_stays_is_a_new_base() -> None:
    points = {T0 + H: 5000.0, T0 + 2 * H: 5001.0}
    rows, _ = hourly_rows(Anchor(T0, 100.0, 7.0), points, 50.0)
    assert [(r["state"], r["sum"]) for r in rows] == [(5000.0, 7.0), (5001.0, 8.0)]
    # Not yet known whether it stays: wait.
    rows, anchor = hourly_rows(Anchor(T0, 100.0, 7.0), {T0 + H: 5000.0}, 50.0)
    assert rows == []
    assert anchor == Anchor(T0, 100.0, 7.0)


def test_a_small_dip_is_no_reset() -> None:
    """1 Wh below the last total, at the end of a fetch and after it."""
    anchor = Anchor(T0, 100.0, 5.0)
    rows, anchor_after = hourly_rows(anchor, {T0 + H: 99.999})
    assert rows == []
    assert anchor_after == anchor
    rows, _ = hourly_rows(anchor, {T0 + H: 99.999, T0 + 2 * H: 99.9995})
    assert rows == []
    rows, _ = hourly_rows(anchor, {T0 + H: 99.999, T0 + 2 * H: 101.0})
    assert [(r["state"], r["sum"]) for r in rows] == [(100.5, 5.5), (101.0, 6.0)]


async def test_a_spike_from_the_cloud_books_nothing(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    frozen: FrozenDateTimeFactory,
) -> None:
    before = float(state(hass, ENERGY))
    inexogy.sim.meter_faults = {ELECTRICITY_METER_ID: Fault.SPIKE}
    await poll(hass, frozen)
    # The sensor keeps its last good total; the spike is no consumption.
    assert float(state(hass, ENERGY)) == before
    await poll(hass, frozen, 3600)  # history with the spike in every hour
    inexogy.sim.meter_faults = {}
    for _ in range(2):
        await poll(hass, frozen, 3600)
    assert float(state(hass, ENERGY)) < before + 100
    rows = await statistic_rows(hass, IMPORT_ID)
    assert_hourly(rows)
    await assert_changes_add_up(hass, IMPORT_ID, rows[-1]["sum"])
    assert max(b["sum"] - a["sum"] for a, b in itertools.pairwise(rows)) < 1


# --- readings from the future ---------------------------------------------------------


async def test_a_reading_from_the_future_makes_its_meter_unavailable(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    frozen: FrozenDateTimeFactory,
) -> None:
    asked = inexogy.sim.request_count("/readings")
    inexogy.sim.meter_faults = {ELECTRICITY_METER_ID: Fault.AHEAD}
    for _ in range(4):
        await poll(hass, frozen)
    assert state(hass, POWER) == STATE_UNAVAILABLE
    assert inexogy.sim.request_count("/readings") == asked
    inexogy.sim.meter_faults = {}
    await poll(hass, frozen)
    assert state(hass, POWER) != STATE_UNAVAILABLE


# --- alarms --------------------------------------------------------------------------


async def test_an_older_alarm_push_never_clears_a_leak(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    now = datetime.now(UTC)
    await ready.sim.push_alarms(ready_sim.WATER_METER_ID, ready_sim.LEAK, now)
    await settle(hass, ready)
    assert state(hass, LEAK) == STATE_ON
    # Redelivered late, or out of order: the all-clear from before the leak.
    await ready.sim.push_alarms(ready_sim.WATER_METER_ID, 0, now - H)
    await settle(hass, ready)
    assert state(hass, LEAK) == STATE_ON


# --- partial readings ----------------------------------------------------------------


@pytest.mark.freeze_time(HALF_PAST)
async def test_a_partial_reading_updates_only_what_it_carries(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    heat = [
        s.entity_id
        for s in hass.states.async_all("sensor")
        if s.entity_id.startswith("sensor.heat_meter_4501_")
        and s.state not in (STATE_UNKNOWN, STATE_UNAVAILABLE)
    ]
    assert len(heat) > 3
    before = {entity_id: state(hass, entity_id) for entity_id in heat}
    freezer.tick(timedelta(minutes=40))
    reading = ready.sim.reading(ready_sim.HEAT_METER_ID, T0 + 13 * H)
    reading["registers"] = reading["registers"][:1]  # the heat energy alone
    del reading["infoCode"]
    await post_signed(hass, ready, push_body(ready, [reading], "partial-1"))
    after = {entity_id: state(hass, entity_id) for entity_id in heat}
    changed = {k for k in heat if after[k] != before[k]}
    assert changed <= {
        "sensor.heat_meter_4501_heat_energy",
        *(k for k in heat if k.endswith("_last_reading")),
    }
    assert STATE_UNKNOWN not in after.values()
    assert state(hass, "binary_sensor.heat_meter_4501_battery") != STATE_UNKNOWN


# --- hours stamped long ago, glitches on whole hours, a recorder behind -----------


@pytest.mark.freeze_time(HALF_PAST)
async def test_readings_stamped_long_ago_rewrite_no_history(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    rows = await statistic_rows(hass, WATER_ID)
    for year in (1, 1900, 1970, 2000):
        reading = ready.sim.reading(ready_sim.WATER_METER_ID, T0)
        reading["timestamp"] = f"{year:04d}-01-01T00:00:00Z"
        await post_signed(hass, ready, push_body(ready, [reading], f"old-{year}"))
    assert await statistic_rows(hass, WATER_ID) == rows
    task = ready_entry.runtime_data.statistics.job.task
    assert task is not None
    assert task.done()
    assert task.exception() is None


@pytest.mark.freeze_time(HALF_PAST)
async def test_a_zero_glitch_on_a_whole_hour_books_no_hour_twice(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    def volume(hour: datetime) -> float:
        reading = ready.sim.reading(ready_sim.WATER_METER_ID, hour)
        return float(reading["registers"][0]["value"])

    freezer.tick(timedelta(minutes=40))
    glitch = ready.sim.reading(ready_sim.WATER_METER_ID, T0 + 13 * H)
    glitch["registers"][0]["value"] = 0
    await post_signed(hass, ready, push_body(ready, [glitch], "zero-1"))
    freezer.tick(H)
    await ready.sim.push_readings([ready_sim.WATER_METER_ID])
    await settle(hass, ready)
    rows = await statistic_rows(hass, WATER_ID)
    assert_hourly(rows)
    assert_consistent(rows)
    by_start = {datetime.fromtimestamp(r["start"], UTC): r for r in rows}
    for hour in (T0 + 12 * H, T0 + 13 * H):
        used = by_start[hour]["sum"] - by_start[hour - H]["sum"]
        assert used == pytest.approx(volume(hour + H) - volume(hour)), hour


@pytest.mark.freeze_time(HALF_PAST)
async def test_a_dip_of_one_watt_hour_is_no_reset(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The electricity meter's totals at 13:00 and 14:00 come just below noon's."""
    meter = ready_sim.ELECTRICITY_METER_ID
    key = ready_statistic_id(meter, "energy_import")
    before = await statistic_rows(hass, key)

    def energy(reading: dict[str, Any]) -> dict[str, Any]:
        return next(r for r in reading["registers"] if r["register"] == "Energy")

    noon = energy(ready.sim.reading(meter, T0 + 12 * H))["value"]
    freezer.tick(timedelta(minutes=100))
    dips = [ready.sim.reading(meter, T0 + hour * H) for hour in (13, 14)]
    energy(dips[0])["value"] = noon - 0.001
    energy(dips[1])["value"] = noon - 0.0005
    await post_signed(hass, ready, push_body(ready, dips, "dips-1"))
    freezer.tick(H)
    await ready.sim.push_readings([meter])
    await settle(hass, ready)
    assert not our_records(caplog, "meter reset")
    rows = await statistic_rows(hass, key)
    assert_hourly(rows)
    # Noon to 15:00 holds what the meter used meanwhile, spread evenly.
    assert rows[-1]["sum"] - before[-1]["sum"] == pytest.approx(
        rows[-1]["state"] - noon
    )


@pytest.mark.freeze_time(HALF_PAST)
async def test_a_correction_waits_for_the_rows_it_corrects(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """Pushed while the recorder has not yet written the hours before it."""
    freezer.tick(timedelta(minutes=100))
    hour = T0 + 14 * H
    await async_block_recorder(hass, 1)
    await ready.sim.push_readings([ready_sim.WATER_METER_ID], hours=2)
    await settle(hass, ready)
    corrected = ready.sim.reading(ready_sim.WATER_METER_ID, hour)
    corrected["registers"][0]["value"] -= 0.005
    await post_signed(hass, ready, push_body(ready, [corrected], "correction-1"))
    await get_instance(hass).async_block_till_done()
    rows = await statistic_rows(hass, WATER_ID)
    assert_consistent(rows)
    last = rows[-1]
    assert datetime.fromtimestamp(last["start"], UTC) == hour - H
    assert last["state"] == pytest.approx(corrected["registers"][0]["value"])


# --- pushes at their limits --------------------------------------------------------


@pytest.mark.freeze_time(HALF_PAST)
async def test_two_hundred_concurrent_pushes_apply_once_each(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """READY retrying many deliveries at once, half of them replays."""
    freezer.tick(timedelta(minutes=40))
    reading = ready.sim.reading(ready_sim.WATER_METER_ID, T0 + 13 * H)
    bodies = [push_body(ready, [reading], f"many-{n % 100}") for n in range(200)]
    answers = await asyncio.gather(
        *(
            webhook_post(hass, ready, body, signature=ready.sim.sign(body))
            for body in bodies
        )
    )
    assert set(answers) == {200}
    await settle(hass, ready)
    volume = float(reading["registers"][0]["value"])
    assert float(state(hass, "sensor.water_meter_4567_water_volume")) == volume
    rows = await statistic_rows(hass, WATER_ID)
    assert_hourly(rows)
    assert rows[-1]["state"] == pytest.approx(volume)


async def test_headers_at_their_limits_are_refused(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    before = state(hass, "sensor.water_meter_4567_water_volume")
    body = push_body(ready, [], "headers-1")
    for signature in ("A" * 8000, "A" * 20_000, ready.sim.sign(body) + "=" * 7000):
        assert 400 <= await webhook_post(hass, ready, body, signature=signature) < 500
    await settle(hass, ready)
    assert state(hass, "sensor.water_meter_4567_water_volume") == before


# --- replays across restarts, pushes during setup, the handshake ------------------


@pytest.mark.freeze_time(HALF_PAST)
async def test_a_replay_after_a_reload_does_not_revert_a_correction(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    freezer.tick(timedelta(minutes=40))
    hour = T0 + 12 * H  # not the latest hour, which every poll brings again
    original = ready.sim.reading(ready_sim.WATER_METER_ID, hour)
    first = push_body(ready, [original], "original-1")
    await post_signed(hass, ready, first)
    corrected = ready.sim.reading(ready_sim.WATER_METER_ID, hour)
    corrected["registers"][0]["value"] -= 0.005
    await post_signed(hass, ready, push_body(ready, [corrected], "correction-1"))
    await hass.config_entries.async_reload(ready_entry.entry_id)
    await settle(hass, ready)
    rows = await statistic_rows(hass, WATER_ID)
    by_start = {datetime.fromtimestamp(r["start"], UTC): r for r in rows}
    assert by_start[hour - H]["state"] == pytest.approx(
        corrected["registers"][0]["value"]
    )
    # READY delivers the first body once more, long after the correction.
    answer = await _signed(hass, ready, first)
    assert answer == (200, {"status": "duplicate"})
    await settle(hass, ready)
    assert await statistic_rows(hass, WATER_ID) == rows


async def _signed(
    hass: HomeAssistant, ready: Ready, body: bytes, **headers: str
) -> tuple[int, Any]:
    subscription = next(iter(ready.sim.subscriptions.values()))
    async with (
        ClientSession() as client,
        client.post(
            subscription.webhook_uri,
            data=body,
            headers={"X-Ready-Signature": ready.sim.sign(body), **headers},
        ) as response,
    ):
        return response.status, await response.json(content_type=None)


async def _set_up_again(
    hass: HomeAssistant, ready: Ready, entry: ConfigEntry, path: str, requests: int
) -> tuple[str, asyncio.Task[bool]]:
    """Unload, start setting up again; return once READY has this many requests.

    Returns the webhook's address and the setup, still running.
    """
    webhook_uri = next(iter(ready.sim.subscriptions.values())).webhook_uri
    await hass.config_entries.async_unload(entry.entry_id)
    asked = ready.sim.request_count(path)
    setup = hass.async_create_task(hass.config_entries.async_setup(entry.entry_id))
    await ready.sim.wait_for_requests(path, asked + requests)
    return webhook_uri, setup


async def test_a_leak_pushed_while_the_entry_sets_up_is_not_lost(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    ready.sim.latest_held = True
    webhook_uri, setup = await _set_up_again(
        hass, ready, ready_entry, "/api/v1/readings/latest", 1
    )
    body = json.dumps(
        {
            "type": "Alarms",
            "subscriptionId": "any",
            "deliveryId": "leak-during-setup",
            "alarms": [
                {
                    "meterId": ready_sim.WATER_METER_ID,
                    "timestamp": datetime.now(UTC).isoformat(),
                    "infoCode": ready_sim.LEAK,
                }
            ],
        }
    ).encode()
    async with (
        ClientSession() as client,
        client.post(
            webhook_uri, data=body, headers={"X-Ready-Signature": ready.sim.sign(body)}
        ) as response,
    ):
        assert response.status == 200
        assert await response.json() == {"status": "queued"}
    ready.sim.latest_held = False
    assert await setup
    await settle(hass, ready)
    assert state(hass, LEAK) == STATE_ON


async def test_a_second_signature_or_no_delivery_id_is_refused(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    before = state(hass, "sensor.water_meter_4567_water_volume")
    reading = ready.sim.reading(ready_sim.WATER_METER_ID, T0 + 12 * H)
    body = push_body(ready, [reading], "twice-signed")
    subscription = next(iter(ready.sim.subscriptions.values()))
    headers = CIMultiDict(
        [
            ("X-Ready-Signature", ready.sim.sign(body)),
            ("X-Ready-Signature", "forged"),
        ]
    )
    async with (
        ClientSession() as client,
        client.post(subscription.webhook_uri, data=body, headers=headers) as response,
    ):
        assert response.status == 400
    for missing in (None, ""):
        data = json.loads(push_body(ready, [reading], "x"))
        data["deliveryId"] = missing
        unnamed = json.dumps(data).encode()
        assert (await _signed(hass, ready, unnamed))[0] == 400
    await settle(hass, ready)
    assert state(hass, "sensor.water_meter_4567_water_volume") == before


async def test_no_challenge_is_answered_for_a_subscription_not_ours(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    """While our subscribe request is in flight, too: READY's answer names ours."""
    ready.sim.subscribe_held = True
    # The list, then the subscribe request that is held.
    webhook_uri, setup = await _set_up_again(
        hass, ready, ready_entry, "/api/v1/webhooks/subscriptions", 2
    )
    challenge = json.dumps(
        {
            "type": "Verification",
            "subscriptionId": "someone-elses",
            "verificationToken": "sign-this",
        }
    ).encode()

    async def answer() -> int:
        async with (
            ClientSession() as client,
            client.post(webhook_uri, data=challenge) as response,
        ):
            return response.status

    waiting = hass.async_create_task(answer())
    # Answered while the request is held, it was answered without knowing
    # whose it is. (The clock is frozen: no timeout would ever fire.)
    for _ in range(200):
        await asyncio.sleep(0)
    assert not waiting.done()
    ready.sim.subscribe_held = False
    assert await waiting == 403
    assert await setup
    await settle(hass, ready)


async def test_a_throttled_sign_in_asks_for_no_new_secret(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """The token runs out and the sign-in service throttles its renewal."""
    ready.sim.token_fault = ready_sim.Fault.RATE_LIMITED
    ready.sim.retry_after = 600
    await poll(hass, freezer, 3600)  # READY's hourly poll, with a new token
    await settle(hass, ready)
    assert state(hass, "sensor.water_meter_4567_water_volume") == STATE_UNAVAILABLE
    assert not [
        flow
        for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
        if flow["context"]["source"] == "reauth"
    ]
    ready.sim.token_fault = ready_sim.Fault.NONE
    await poll(hass, freezer, 600)  # as the sign-in service asked
    await settle(hass, ready)
    assert state(hass, "sensor.water_meter_4567_water_volume") != STATE_UNAVAILABLE


@pytest.mark.freeze_time(HALF_PAST)
async def test_delivery_ids_are_remembered_for_a_week(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    reading = ready.sim.reading(ready_sim.WATER_METER_ID, T0 + 12 * H)
    first = push_body(ready, [reading], "week-1")
    assert await _signed(hass, ready, first) == (200, {"status": "ok"})
    freezer.tick(timedelta(days=6))
    assert await _signed(hass, ready, first) == (200, {"status": "duplicate"})
    freezer.tick(timedelta(days=2))
    # The next delivery lets the week-old one go: READY redelivers for hours.
    second = push_body(ready, [reading], "week-2")
    assert await _signed(hass, ready, second) == (200, {"status": "ok"})
    assert await _signed(hass, ready, first) == (200, {"status": "ok"})
    await settle(hass, ready)
