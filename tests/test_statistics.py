"""Hourly long-term statistics: backfill, keeping current, outages, corrections."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from aiohttp import ClientSession
from aiohttp.test_utils import TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.models import StatisticData
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_metadata,
    list_statistic_ids,
)
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.typing import (
    RecorderInstanceContextManager,
)

from custom_components.smart_meter_cloud.const import DEFAULT_HISTORY_DAYS, DOMAIN
from custom_components.smart_meter_cloud.statistics.rows import Anchor, hourly_rows
from tests.simulator import ready as ready_sim
from tests.simulator.inexogy import ELECTRICITY_METER_ID, GAS_METER_ID, Fault

from .conftest import (
    HALF_PAST,
    IMPORT_ID,
    T0,
    WATER_ID,
    H,
    Inexogy,
    Ready,
    SecretWatch,
    add_inexogy_entry,
    assert_changes_add_up,
    assert_consistent,
    assert_hourly,
    assert_statistics_complete,
    import_history,
    our_records,
    poll,
    push_corrected_volume,
    push_next_hour,
    ready_statistics,
    restarted,
    serve_webhooks,
    settle,
    start_inexogy_flow,
    state,
    statistic_rows,
)

GAS_ID = f"{DOMAIN}:inexogy_{GAS_METER_ID}_volume"


# --- the pure part -----------------------------------------------------------------


def _rows(
    anchor: Anchor | None, *totals: tuple[int, float]
) -> list[tuple[int, float, float]]:
    rows, _ = hourly_rows(anchor, {T0 + h * H: v for h, v in totals})
    return [(int((r["start"] - T0) / H), r["state"], r["sum"]) for r in rows]


def test_rows_start_at_the_first_total() -> None:
    assert _rows(None, (0, 100.0), (1, 101.0), (2, 103.0)) == [
        (0, 101.0, 1.0),
        (1, 103.0, 3.0),
    ]


def test_gap_is_spread_over_its_hours() -> None:
    assert _rows(Anchor(T0, 100.0, 10.0), (3, 106.0)) == [
        (0, 102.0, 12.0),
        (1, 104.0, 14.0),
        (2, 106.0, 16.0),
    ]


def test_zero_and_lower_glitches_are_skipped() -> None:
    assert _rows(Anchor(T0, 100.0, 0.0), (1, 0.0), (2, 99.0), (3, 103.0)) == [
        (0, 101.0, 1.0),
        (1, 102.0, 2.0),
        (2, 103.0, 3.0),
    ]


def test_a_reset_continues_from_the_new_base() -> None:
    assert _rows(Anchor(T0, 100.0, 50.0), (1, 101.0), (2, 5.0), (3, 7.0)) == [
        (0, 101.0, 51.0),
        (1, 5.0, 51.0),
        (2, 7.0, 53.0),
    ]


def test_an_unconfirmed_drop_waits() -> None:
    rows, anchor = hourly_rows(Anchor(T0, 100.0, 0.0), {T0 + H: 101.0, T0 + 2 * H: 5.0})
    assert [r["sum"] for r in rows] == [1.0]
    assert anchor == Anchor(T0 + H, 101.0, 1.0)


def test_a_register_that_stays_zero_is_anchored() -> None:
    rows, anchor = hourly_rows(None, {T0: 0.0, T0 + H: 0.0})
    assert [(r["state"], r["sum"]) for r in rows] == [(0.0, 0.0)]
    assert anchor == Anchor(T0 + H, 0.0, 0.0)


def test_times_between_hours_are_not_totals_of_an_hour() -> None:
    assert _rows(Anchor(T0, 1.0, 0.0)) == []
    rows, _ = hourly_rows(Anchor(T0, 1.0, 0.0), {T0 + H / 2: 2.0})
    assert rows == []


# --- through Home Assistant --------------------------------------------------------


def _total(inexogy: Inexogy, meter_id: str, at: datetime, field: str) -> float:
    raw = inexogy.sim.meter(meter_id).values_at(int(at.timestamp() * 1000), False)
    return raw[field] / (1e10 if field.startswith("energy") else 1e3)


@pytest.mark.history_days(DEFAULT_HISTORY_DAYS)
async def test_backfill_30_days_at_setup(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    rows = await statistic_rows(hass, IMPORT_ID)
    assert len(rows) == 30 * 24
    assert_hourly(rows)
    now_hour = datetime(2026, 11, 23, 12, tzinfo=UTC)
    first = now_hour - timedelta(days=30)
    assert datetime.fromtimestamp(rows[0]["start"], UTC) == first
    assert datetime.fromtimestamp(rows[-1]["start"], UTC) == now_hour - H
    expected = _total(inexogy, ELECTRICITY_METER_ID, now_hour, "energy") - _total(
        inexogy, ELECTRICITY_METER_ID, first, "energy"
    )
    assert rows[-1]["sum"] == pytest.approx(expected)
    assert rows[-1]["state"] == pytest.approx(
        _total(inexogy, ELECTRICITY_METER_ID, now_hour, "energy")
    )
    assert len(await statistic_rows(hass, GAS_ID)) == 30 * 24
    # Named as the sensors are, to be found in the energy settings.
    found = await get_instance(hass).async_add_executor_job(
        list_statistic_ids, hass, {IMPORT_ID, GAS_ID}
    )
    assert sorted(s["name"] for s in found) == [
        "Electricity meter 3456 Energy import",
        "Gas meter 5678 Gas volume",
    ]
    # Tariff registers are not statistics of their own.
    assert (
        await statistic_rows(hass, IMPORT_ID.replace("import", "import_tariff_1")) == []
    )


async def test_keeps_current_and_recovers_an_outage_without_gap(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    history_days: int,
) -> None:
    await poll(hass, freezer, 3600)
    assert len(await statistic_rows(hass, IMPORT_ID)) == history_days * 24 + 1

    inexogy.sim.fault = Fault.SERVER_ERROR
    for _ in range(5):
        await poll(hass, freezer, 3600)
    assert len(await statistic_rows(hass, IMPORT_ID)) == history_days * 24 + 1

    inexogy.sim.fault = Fault.NONE
    await poll(hass, freezer, 3600)
    rows = await statistic_rows(hass, IMPORT_ID)
    assert len(rows) == history_days * 24 + 7
    assert_hourly(rows)
    end = datetime.fromtimestamp(rows[-1]["start"], UTC) + H
    first = datetime.fromtimestamp(rows[0]["start"], UTC)
    assert rows[-1]["sum"] == pytest.approx(
        _total(inexogy, ELECTRICITY_METER_ID, end, "energy")
        - _total(inexogy, ELECTRICITY_METER_ID, first, "energy")
    )


async def test_reload_does_not_import_again(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    history_days: int,
) -> None:
    asked = inexogy.sim.request_count("/readings")
    await hass.config_entries.async_reload(inexogy_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert inexogy.sim.request_count("/readings") == asked
    assert len(await statistic_rows(hass, IMPORT_ID)) == history_days * 24


async def test_removing_the_entry_keeps_the_statistics(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    history_days: int,
) -> None:
    await hass.config_entries.async_remove(inexogy_entry.entry_id)
    await hass.async_block_till_done()
    assert len(await statistic_rows(hass, IMPORT_ID)) == history_days * 24


# It imports again two days that ended a day and a half ago: four days hold them.
@pytest.mark.history_days(4)
async def test_import_history_action(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    before = await statistic_rows(hass, IMPORT_ID)
    end = datetime(2026, 11, 22, tzinfo=UTC)
    await import_history(hass, inexogy_entry.entry_id, end - timedelta(days=2), end)
    after = await statistic_rows(hass, IMPORT_ID)
    assert [r["start"] for r in after] == [r["start"] for r in before]
    for old, new in zip(before, after, strict=True):
        assert new["sum"] == pytest.approx(old["sum"])
        assert new["state"] == pytest.approx(old["state"])

    for start, stop in (
        (end, end - H),  # backwards
        (end, end + timedelta(days=2)),  # into the future
        (end - timedelta(days=4000), end),  # beyond three years
    ):
        with pytest.raises(ServiceValidationError) as bad:
            await import_history(hass, inexogy_entry.entry_id, start, stop)
        assert bad.value.translation_key == "invalid_range"
    with pytest.raises(ServiceValidationError) as missing:
        await hass.services.async_call(
            DOMAIN,
            "import_history",
            {"config_entry_id": "nope", "start": "2026-11-01", "end": "2026-11-02"},
            blocking=True,
        )
    assert missing.value.translation_key == "service_config_entry_not_found"


@pytest.mark.freeze_time(HALF_PAST)
async def test_ready_pushes_fill_hours_without_requests_and_corrections_rewrite(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    history_days: int,
) -> None:
    rows = await statistic_rows(hass, WATER_ID)
    assert len(rows) == history_days * 24
    asked = ready.sim.request_count(
        f"/api/v1/meters/{ready_sim.WATER_METER_ID}/readings"
    )
    await push_next_hour(hass, ready, freezer)
    rows = await statistic_rows(hass, WATER_ID)
    assert len(rows) == history_days * 24 + 1
    assert (
        ready.sim.request_count(f"/api/v1/meters/{ready_sim.WATER_METER_ID}/readings")
        == asked
    )

    # READY corrects the 12:00 total: the hours around it follow.
    hour = datetime(2026, 11, 23, 12, tzinfo=UTC)
    await push_corrected_volume(hass, ready, hour, -0.005)
    corrected = await statistic_rows(hass, WATER_ID)
    assert len(corrected) == len(rows)
    assert_hourly(corrected)
    assert corrected[-2]["sum"] == pytest.approx(rows[-2]["sum"] - 0.005)
    assert corrected[-1]["sum"] == pytest.approx(rows[-1]["sum"])
    assert corrected[-3]["sum"] == pytest.approx(rows[-3]["sum"])
    await assert_changes_add_up(hass, WATER_ID, corrected[-1]["sum"])


# Stopping the first Home Assistant leaves its storage's delayed-write timer.
@pytest.mark.parametrize(
    ("persistent_database", "expected_lingering_timers"), [(True, True)]
)
async def test_restart_in_the_middle_of_a_backfill(
    hass: HomeAssistant,
    inexogy: Inexogy,
    async_test_recorder: RecorderInstanceContextManager,
    secret_watch: SecretWatch,
    history_days: int,
) -> None:
    """Hours written before a restart stay; the rest follow; none twice."""
    inexogy.sim.readings_left = 1  # the first meter's history, then hang up
    result = await hass.config_entries.flow.async_configure(
        await start_inexogy_flow(hass), inexogy.user_input()
    )
    entry = result["result"]
    await inexogy.sim.wait_for_requests("/readings", 2)
    first = await statistic_rows(hass, IMPORT_ID)
    assert len(first) == history_days * 24
    assert await statistic_rows(hass, GAS_ID) == []
    await hass.async_stop()

    inexogy.sim.readings_left = None
    asked = inexogy.sim.request_count("/readings")
    async with restarted(async_test_recorder, entry, secret_watch) as again:
        after = {key: await statistic_rows(again, key) for key in (IMPORT_ID, GAS_ID)}
    for rows in after.values():
        assert len(rows) == history_days * 24
        assert_hourly(rows)
    assert after[IMPORT_ID] == first
    # Only what was missing was asked for: not the first meter's history.
    active = sum(1 for meter in inexogy.sim.meters if meter.active)
    assert inexogy.sim.request_count("/readings") - asked == active - 1


@pytest.mark.history_days(30)
async def test_more_history_days_fetch_the_earlier_history(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    before = await statistic_rows(hass, IMPORT_ID)
    assert len(before) == 30 * 24
    asked = inexogy.sim.request_count("/readings")
    result = await hass.config_entries.options.async_init(inexogy_entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 30, "history_days": 90}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    rows = await statistic_rows(hass, IMPORT_ID)
    assert len(rows) == 90 * 24
    assert_hourly(rows)
    assert_consistent(rows)
    # The hours already there keep their totals and consumption; their sums
    # move up by the consumption before them.
    _assert_same_hours(rows[-len(before) :], before)
    active = sum(1 for meter in inexogy.sim.meters if meter.active)
    assert inexogy.sim.request_count("/readings") - asked <= 3 * active
    gas = await statistic_rows(hass, GAS_ID)
    assert len(gas) == 90 * 24
    assert_consistent(gas)
    for key, meter_id, field in _TOTALS:
        await assert_changes_add_up(
            hass, key, await _consumption(hass, inexogy, key, meter_id, field)
        )

    # Recorded: a reload asks for nothing more.
    asked = inexogy.sim.request_count("/readings")
    await hass.config_entries.async_reload(inexogy_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert inexogy.sim.request_count("/readings") == asked


_TOTALS = (
    (IMPORT_ID, ELECTRICITY_METER_ID, "energy"),
    (IMPORT_ID.replace("import", "export"), ELECTRICITY_METER_ID, "energyOut"),
    (GAS_ID, GAS_METER_ID, "volume"),
)


async def _consumption(
    hass: HomeAssistant, inexogy: Inexogy, key: str, meter_id: str, field: str
) -> float:
    """The meter's consumption over the hours a statistic holds."""
    rows = await statistic_rows(hass, key)
    first = datetime.fromtimestamp(rows[0]["start"], UTC)
    end = datetime.fromtimestamp(rows[-1]["start"], UTC) + H
    return _total(inexogy, meter_id, end, field) - _total(
        inexogy, meter_id, first, field
    )


def _assert_same_hours(
    rows: list[dict[str, float]], before: list[dict[str, float]]
) -> None:
    """The same hours with the same totals and consumption, sums moved alike."""
    assert [r["start"] for r in rows] == [r["start"] for r in before]
    assert [r["state"] for r in rows] == pytest.approx([r["state"] for r in before])
    moved = rows[0]["sum"] - before[0]["sum"]
    assert [r["sum"] - moved for r in rows] == pytest.approx([r["sum"] for r in before])


async def _import_history(
    hass: HomeAssistant, entry: ConfigEntry, start: datetime, end: datetime
) -> None:
    await import_history(hass, entry.entry_id, start, end)
    await hass.async_block_till_done(wait_background_tasks=True)


async def test_history_before_the_first_hour_never_books_negative_hours(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    """Extended by the action, then by the option, then both again over it."""
    before = await statistic_rows(hass, IMPORT_ID)
    first = datetime.fromtimestamp(before[0]["start"], UTC)
    # Into the stored hours, then a range ending a day short of them.
    await _import_history(hass, inexogy_entry, first - timedelta(days=5), first + H)
    await _import_history(
        hass, inexogy_entry, first - timedelta(days=12), first - timedelta(days=6)
    )
    for key, meter_id, field in _TOTALS:
        rows = await statistic_rows(hass, key)
        assert rows[0]["start"] == (first - timedelta(days=12)).timestamp()
        assert rows[0]["sum"] >= 0
        await assert_changes_add_up(
            hass, key, await _consumption(hass, inexogy, key, meter_id, field)
        )
    rows = await statistic_rows(hass, IMPORT_ID)
    _assert_same_hours(rows[-len(before) :], before)

    result = await hass.config_entries.options.async_init(inexogy_entry.entry_id)
    await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 30, "history_days": 45}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    # The day left out is filled; the range again, as it is, changes nothing.
    await _import_history(hass, inexogy_entry, first - timedelta(days=7), first)
    for key, meter_id, field in _TOTALS:
        rows = await statistic_rows(hass, key)
        assert len(rows) == 45 * 24, key
        assert_hourly(rows)
        assert_consistent(rows)
        await assert_changes_add_up(
            hass, key, await _consumption(hass, inexogy, key, meter_id, field)
        )


async def test_negative_sums_of_an_earlier_version_are_mended(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """What 1.1 stored when history was extended is lifted once, on update."""
    await hass.config_entries.async_unload(inexogy_entry.entry_id)
    stored = await statistic_rows(hass, IMPORT_ID)
    first = datetime.fromtimestamp(stored[0]["start"], UTC)
    # As 1.1 wrote five more days: led up to the first stored hour.
    offset = stored[0]["state"] - stored[0]["sum"]
    earlier = []
    for hour in range(-5 * 24, 0):
        start = first + hour * H
        total = _total(inexogy, ELECTRICITY_METER_ID, start + H, "energy")
        earlier.append(StatisticData(start=start, state=total, sum=total - offset))
    found = await get_instance(hass).async_add_executor_job(
        partial(get_metadata, hass, statistic_ids={IMPORT_ID})
    )
    async_add_external_statistics(hass, found[IMPORT_ID][1], earlier)
    rows = await statistic_rows(hass, IMPORT_ID)
    assert rows[0]["sum"] < 0
    hass.config_entries.async_update_entry(inexogy_entry, minor_version=1)

    await hass.config_entries.async_setup(inexogy_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert inexogy_entry.minor_version == 3
    mended = await statistic_rows(hass, IMPORT_ID)
    assert mended[0]["sum"] == pytest.approx(0)
    assert_consistent(mended)
    # Every hour but the earliest, whose consumption 1.1 did not keep.
    await assert_changes_add_up(
        hass,
        IMPORT_ID,
        await _consumption(hass, inexogy, IMPORT_ID, ELECTRICITY_METER_ID, "energy")
        - (
            mended[0]["state"]
            - _total(inexogy, ELECTRICITY_METER_ID, first - 5 * 24 * H, "energy")
        ),
    )
    assert len(our_records(caplog, "below zero")) == 1
    await hass.config_entries.async_reload(inexogy_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert len(our_records(caplog, "below zero")) == 1


WATER_VOLUME = "sensor.water_meter_4567_water_volume"


@dataclass
class Interrupted:
    """A batch taken but not yet imported; when the entry was set up, and its days."""

    body: bytes
    started: datetime
    days: int


@pytest.fixture
async def interrupted(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    history_days: int,
) -> Interrupted:
    """READY pushes a batch, answered 200, whose import waits for history.

    Six hours pass; the batch holds the last four, so the two before it must
    come from the history, which READY does not answer yet.
    """
    started = datetime.now(UTC)
    ready.sim.history_left = 0
    freezer.tick(timedelta(hours=6))
    history = f"/api/v1/meters/{ready_sim.WATER_METER_ID}/readings"
    asked = ready.sim.request_count(history)
    delivery = await ready.sim.push_readings(hours=4)
    await ready.sim.wait_for_requests(history, asked + 1)
    batch = [d for d in ready.sim.deliveries if d.delivery_id == delivery]
    assert [d.status for d in batch] == [200]
    stored = await statistic_rows(hass, WATER_ID)
    assert len(stored) == history_days * 24  # none of it yet
    return Interrupted(batch[0].body, started, history_days)


async def _assert_nothing_lost_or_doubled(
    hass: HomeAssistant, ready: Ready, interrupted: Interrupted
) -> None:
    """Delivered once more, the batch changes nothing; every hour is there once."""
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    water = ready.sim.reading(ready_sim.WATER_METER_ID, hour)["registers"][0]
    assert float(state(hass, WATER_VOLUME)) == pytest.approx(water["value"])
    series = ready_statistics(ready)
    before = {key: await statistic_rows(hass, key) for key in series}
    webhook = next(iter(ready.sim.subscriptions.values())).webhook_uri
    batch = interrupted.body
    signature = {"X-Ready-Signature": ready.sim.sign(batch)}
    async with (
        ClientSession() as client,
        client.post(webhook, data=batch, headers=signature) as response,
    ):
        assert response.status == 200
    await settle(hass, ready)
    assert float(state(hass, WATER_VOLUME)) == pytest.approx(water["value"])
    hours = await assert_statistics_complete(
        hass, series, interrupted.started, interrupted.days
    )
    assert hours == interrupted.days * 24 + 6
    for key, rows in before.items():
        assert await statistic_rows(hass, key) == pytest.approx(rows), key


@pytest.mark.parametrize(
    ("persistent_database", "expected_lingering_timers"), [(True, True)]
)
async def test_restart_in_the_middle_of_a_push_batch(
    hass: HomeAssistant,
    ready: Ready,
    interrupted: Interrupted,
    async_test_recorder: RecorderInstanceContextManager,
    secret_watch: SecretWatch,
) -> None:
    """Home Assistant stops while it imports a batch it has already taken."""
    port = ready.server.port
    await ready.server.close()  # Home Assistant stops, its server first
    await hass.async_stop()

    ready.sim.history_left = None
    servers: list[TestServer] = []

    async def serve(again: HomeAssistant) -> None:
        servers.append(await serve_webhooks(again, port))  # the same address

    entry = hass.config_entries.async_entries(DOMAIN)[0]
    async with restarted(async_test_recorder, entry, secret_watch, serve) as again:
        await settle(again, ready)
        await _assert_nothing_lost_or_doubled(again, ready, interrupted)
    await servers[0].close()


async def test_reload_in_the_middle_of_a_push_batch(
    hass: HomeAssistant, ready: Ready, interrupted: Interrupted
) -> None:
    """The entry reloads while it imports a batch it has already taken."""
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    await hass.config_entries.async_reload(entry.entry_id)
    ready.sim.history_left = None
    await settle(hass, ready)
    await _assert_nothing_lost_or_doubled(hass, ready, interrupted)


async def test_first_reading_without_totals_writes_nothing(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    """An all-zero glitch before any good total leaves no register to import."""
    inexogy.sim.meter_faults = {ELECTRICITY_METER_ID: Fault.ALL_ZERO_TOTALS}
    entry = await add_inexogy_entry(hass, inexogy.url)
    assert await statistic_rows(hass, IMPORT_ID) == []
    # The import ran to its end: a failure would stay in the finished task.
    task = entry.runtime_data.statistics.job.task
    assert task is not None
    assert task.done()
    assert task.exception() is None
