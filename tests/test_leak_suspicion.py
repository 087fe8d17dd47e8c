"""Leak suspicion of water meters through Home Assistant, from the hours as they come.

The tests' time zone is US/Pacific (UTC-8 in November): the night window's
2 to 5 o'clock are the hours from 10 to 13 UTC.
"""

from datetime import UTC, datetime
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNKNOWN
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.helpers.translation import async_get_translations
import pytest
from pytest_homeassistant_custom_component.typing import (
    RecorderInstanceContextManager,
)

from custom_components.smart_meter_cloud.const import DOMAIN
from tests.simulator import ready as ready_sim
from tests.simulator.inexogy import WATER_METER_ID, WaterUse

from .conftest import (
    HALF_PAST,
    WATER_ID,
    H,
    Inexogy,
    Ready,
    SecretWatch,
    add_inexogy_entry,
    data_schema,
    open_sections,
    post_signed,
    push_body,
    restarted,
    save_options,
    settle,
    state,
    statistic_rows,
)

READY_LEAK = "binary_sensor.water_meter_4567_leak_suspected"
READY_NIGHT = "sensor.water_meter_4567_night_minimum_flow"
INEXOGY_LEAK = "binary_sensor.water_meter_6789_leak_suspected"
INEXOGY_NIGHT = "sensor.water_meter_6789_night_minimum_flow"
# The nights from 2 to 5 Pacific time of 22 and 23 November, in UTC.
NIGHT_22 = [datetime(2026, 11, 22, 10, tzinfo=UTC) + i * H for i in range(3)]
NIGHT_23 = [datetime(2026, 11, 23, 10, tzinfo=UTC) + i * H for i in range(3)]
LEAK_OPTIONS = {
    "hours": 24,
    "night_start": "02:00:00",
    "night_end": "05:00:00",
    "threshold": 3,
    "nights": 3,
}


def attributes(hass: HomeAssistant, entity_id: str) -> dict[str, Any]:
    """An entity's attributes, which must exist."""
    found = hass.states.get(entity_id)
    assert found is not None, entity_id
    return dict(found.attributes)


def ready_night_minimum(ready: Ready, night: list[datetime]) -> float:
    """The smallest hour of a night of READY's water meter, in L/h."""
    volume = ready.sim.meter(ready_sim.WATER_METER_ID).registers[0]
    assert volume.name == "Volume"
    return min(
        (volume.value((hour + H).timestamp()) - volume.value(hour.timestamp())) * 1000
        for hour in night
    )


async def first_hour_with_a_change(hass: HomeAssistant, statistic_id: str) -> datetime:
    """The first stored hour whose consumption is known: the second row's."""
    rows = await statistic_rows(hass, statistic_id)
    return datetime.fromtimestamp(rows[1]["start"], UTC)


# --- READY: hours pushed, on time and late ------------------------------------------


@pytest.mark.freeze_time(HALF_PAST)
@pytest.mark.history_days(2)
@pytest.mark.parametrize("late", [False, True], ids=["hourly", "six_hours_late"])
async def test_ready_pushes_are_judged_by_their_own_hours(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    late: bool,
) -> None:
    """READY's demo water never stops flowing: continuous flow, however it comes."""
    since = await first_hour_with_a_change(hass, WATER_ID)
    assert state(hass, READY_LEAK) == STATE_ON
    assert attributes(hass, READY_LEAK) | {"friendly_name": None} == {
        "device_class": "moisture",
        "friendly_name": None,
        "rule": "continuous_flow",
        "since": since,
    }
    # The night of the 23rd is not over at half past twelve: the 22nd's shows.
    assert float(state(hass, READY_NIGHT)) == pytest.approx(
        ready_night_minimum(ready, NIGHT_22), abs=1e-6
    )
    assert attributes(hass, READY_NIGHT)["unit_of_measurement"] == "L/h"

    if late:
        # Nothing for six hours, then READY pushes them all at once.
        freezer.tick(6 * H)
        await ready.sim.push_readings(hours=6)
        await settle(hass, ready)
    else:
        for _ in range(6):
            freezer.tick(H)
            await ready.sim.push_readings()
            await settle(hass, ready)

    rows = await statistic_rows(hass, WATER_ID)
    assert datetime.fromtimestamp(rows[-1]["start"], UTC) == datetime(
        2026, 11, 23, 17, tzinfo=UTC
    )
    # The same verdict either way: the run began where it began.
    assert state(hass, READY_LEAK) == STATE_ON
    assert attributes(hass, READY_LEAK)["since"] == since
    assert float(state(hass, READY_NIGHT)) == pytest.approx(
        ready_night_minimum(ready, NIGHT_23), abs=1e-6
    )


@pytest.mark.freeze_time(HALF_PAST)
@pytest.mark.history_days(4)
async def test_a_correction_is_judged_again(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry
) -> None:
    """A corrected total that leaves an hour without water breaks the flow.

    The nights stay above the threshold: the night minimum's rule holds.
    """
    assert attributes(hass, READY_LEAK)["rule"] == "continuous_flow"
    rows = await statistic_rows(hass, WATER_ID)
    # The last hour's end total set back to its start: nothing flowed in it.
    last = datetime.fromtimestamp(rows[-1]["start"], UTC)
    reading = ready.sim.reading(ready_sim.WATER_METER_ID, last + H)
    for register in reading["registers"]:
        if register["register"] == "Volume":
            register["value"] = rows[-2]["state"]
    await post_signed(hass, ready, push_body(ready, [reading], "correction"))
    rows = await statistic_rows(hass, WATER_ID)
    assert rows[-1]["sum"] == pytest.approx(rows[-2]["sum"])
    assert state(hass, READY_LEAK) == STATE_ON
    # The first whole night the hours hold: the 20th's, from 10 UTC.
    assert attributes(hass, READY_LEAK) | {"friendly_name": None} == {
        "device_class": "moisture",
        "friendly_name": None,
        "rule": "night_minimum",
        "since": datetime(2026, 11, 20, 10, tzinfo=UTC),
    }


# --- inexogy: a household, a drip and a running toilet ------------------------------


@pytest.mark.history_days(2)
@pytest.mark.parametrize(
    ("use", "leak", "night"),
    [
        (WaterUse.HOUSEHOLD, STATE_OFF, 0.0),
        (WaterUse.STEADY, STATE_ON, 6.0),
        (WaterUse.RUNNING_TOILET, STATE_ON, 20.0),
    ],
)
async def test_inexogy_water_use(
    hass: HomeAssistant, inexogy: Inexogy, use: WaterUse, leak: str, night: float
) -> None:
    """Peaks and a dishwasher at night stay off; a drip or a toilet does not."""
    inexogy.sim.water_use = use
    await add_inexogy_entry(hass, inexogy.url)
    assert state(hass, INEXOGY_LEAK) == leak
    assert float(state(hass, INEXOGY_NIGHT)) == pytest.approx(night)
    if leak == STATE_ON:
        assert attributes(hass, INEXOGY_LEAK)["rule"] == "continuous_flow"


async def test_one_day_of_a_dripping_tap_is_not_enough(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    """A day of history holds 23 known hours, and no whole night yet."""
    await add_inexogy_entry(hass, inexogy.url)
    assert state(hass, INEXOGY_LEAK) == STATE_UNKNOWN
    assert state(hass, INEXOGY_NIGHT) == STATE_UNKNOWN


# --- options ------------------------------------------------------------------------


def _leak_section(result: Any) -> section:
    found = next(
        (v for k, v in data_schema(result).schema.items() if str(k) == "leak"), None
    )
    assert isinstance(found, section)
    return found


async def _options(
    hass: HomeAssistant, entry: ConfigEntry, leak: dict[str, Any]
) -> Any:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    return await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 30, "history_days": 2, "leak": leak}
    )


@pytest.mark.history_days(2)
async def test_options_show_the_defaults_and_refuse_bad_rules(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    entry = await add_inexogy_entry(hass, inexogy.url)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    leak = _leak_section(result)
    assert leak.options["collapsed"] is True
    defaults = {str(key): key.default() for key in leak.schema.schema}
    assert defaults == LEAK_OPTIONS

    placeholders = result["description_placeholders"]
    assert placeholders is not None
    texts = await async_get_translations(hass, "en", "options", {DOMAIN})
    for change, error in (
        ({"hours": 1}, "leak_hours"),
        ({"hours": 169}, "leak_hours"),
        ({"night_end": "02:00:00"}, "leak_night"),
        ({"threshold": -1}, "leak_threshold"),
        ({"nights": 0}, "leak_nights"),
        ({"nights": 15}, "leak_nights"),
    ):
        result = await _options(hass, entry, LEAK_OPTIONS | change)
        assert result["type"] is FlowResultType.FORM
        assert result["errors"] == {"leak": error}, change
        # Shown open, with what was typed.
        assert "leak" in open_sections(data_schema(result))
        message = texts[f"component.{DOMAIN}.options.error.{error}"]
        assert "{" not in message.format(**placeholders)
    assert entry.options == {}
    assert state(hass, INEXOGY_LEAK) == STATE_ON


@pytest.mark.history_days(2)
async def test_changed_rules_apply_and_keep_the_history(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    """A week of flow asked for: the drip is then the night minimum's, at once."""
    entry = await add_inexogy_entry(hass, inexogy.url)
    assert attributes(hass, INEXOGY_LEAK)["rule"] == "continuous_flow"
    result = await _options(hass, entry, LEAK_OPTIONS | {"hours": 168, "nights": 1})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert entry.options["leak"]["hours"] == 168
    # The reloaded entry read its hours back: no new hour came meanwhile.
    assert state(hass, INEXOGY_LEAK) == STATE_ON
    assert attributes(hass, INEXOGY_LEAK)["rule"] == "night_minimum"
    assert attributes(hass, INEXOGY_LEAK)["since"] == NIGHT_22[0]
    # A threshold the drip does not pass, and a week of flow not known yet:
    # too few hours to tell.
    result = await _options(hass, entry, LEAK_OPTIONS | {"hours": 168, "threshold": 6})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert state(hass, INEXOGY_LEAK) == STATE_UNKNOWN
    assert float(state(hass, INEXOGY_NIGHT)) == pytest.approx(6.0)


@pytest.mark.history_days(2)
async def test_earlier_history_joins_the_run(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    """History imported further back moves the later sums: the run goes on."""
    entry = await add_inexogy_entry(hass, inexogy.url)
    water = f"{DOMAIN}:inexogy_{WATER_METER_ID}_volume"
    assert attributes(hass, INEXOGY_LEAK)["since"] == await first_hour_with_a_change(
        hass, water
    )
    await save_options(hass, entry, {"scan_interval": 30, "history_days": 4})
    assert len(await statistic_rows(hass, water)) == 4 * 24
    # The drip flowed in every hour since the first of the four days.
    assert attributes(hass, INEXOGY_LEAK)["since"] == await first_hour_with_a_change(
        hass, water
    )
    assert float(state(hass, INEXOGY_NIGHT)) == pytest.approx(6.0)


async def test_no_leak_rules_without_a_water_meter(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    inexogy.sim.meters = [m for m in inexogy.sim.meters if m.meter_id != WATER_METER_ID]
    entry = await add_inexogy_entry(hass, inexogy.url)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert "leak" not in {str(key) for key in data_schema(result).schema}
    assert not hass.states.async_entity_ids("binary_sensor")


# --- restart ------------------------------------------------------------------------


@pytest.mark.history_days(2)
@pytest.mark.parametrize(
    ("persistent_database", "expected_lingering_timers"), [(True, True)]
)
async def test_a_restart_keeps_the_verdict(
    hass: HomeAssistant,
    inexogy: Inexogy,
    async_test_recorder: RecorderInstanceContextManager,
    secret_watch: SecretWatch,
) -> None:
    """The nights and hours before the restart are read back from the recorder."""
    entry = await add_inexogy_entry(hass, inexogy.url)
    before = {
        entity_id: (state(hass, entity_id), attributes(hass, entity_id))
        for entity_id in (INEXOGY_LEAK, INEXOGY_NIGHT)
    }
    assert before[INEXOGY_LEAK][0] == STATE_ON
    await hass.async_stop()

    asked = inexogy.sim.request_count("/readings")
    async with restarted(async_test_recorder, entry, secret_watch) as again:
        after = {
            entity_id: (state(again, entity_id), attributes(again, entity_id))
            for entity_id in before
        }
    assert after == before
    # Not imported again: read back.
    assert inexogy.sim.request_count("/readings") == asked
