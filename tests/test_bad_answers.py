"""Bad data from a cloud, seen in Home Assistant: only what it concerns fails.

A number JSON has not, a reading of the wrong shape or a throttling answer
beyond reason never reaches a sensor or the statistics, and never takes the
other meters, or the polling, down with it.
"""

from datetime import timedelta
from email.utils import format_datetime
import logging

from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_OFF, STATE_ON, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.util import dt as dt_util
import pytest

from custom_components.smart_meter_cloud.const import DOMAIN
from tests.simulator import ready as ready_sim
from tests.simulator.inexogy import GAS_METER_ID, Fault

from .conftest import (
    Inexogy,
    Ready,
    our_records,
    poll,
    settle,
    start_inexogy_flow,
    state,
)

POWER = "sensor.electricity_meter_3456_power"
GAS = "sensor.gas_meter_5678_gas_volume"
WATER_VOLUME = "sensor.water_meter_4567_water_volume"
WATER_FLOW = "sensor.water_meter_4567_flow"
HEAT_ENERGY = "sensor.heat_meter_4501_heat_energy"
LEAK = "binary_sensor.water_meter_4567_leak"


def errors_since(caplog: pytest.LogCaptureFixture, first: int) -> list[str]:
    """Lines logged as errors, or with a traceback, since record ``first``."""
    return [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.records[first:]
        if r.levelno >= logging.ERROR or r.exc_info
    ]


@pytest.mark.parametrize("number", ["NaN", "Infinity", "1e400"])
async def test_a_number_json_has_not_fails_only_its_meter(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    number: str,
) -> None:
    volume = float(state(hass, GAS))
    inexogy.sim.non_finite = number
    inexogy.sim.meter_faults[GAS_METER_ID] = Fault.NON_FINITE
    await poll(hass, freezer)
    assert state(hass, GAS) == STATE_UNAVAILABLE
    assert state(hass, POWER) != STATE_UNAVAILABLE
    [gone] = our_records(caplog, GAS_METER_ID)
    assert gone.levelno == logging.WARNING
    assert "not JSON" in gone.getMessage()

    del inexogy.sim.meter_faults[GAS_METER_ID]
    await poll(hass, freezer)
    assert float(state(hass, GAS)) >= volume


@pytest.mark.parametrize(
    "shape", [{"time": 1e20}, {"values": None}, {"values": []}], ids=repr
)
async def test_a_reading_of_the_wrong_shape_fails_only_its_meter(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
    shape: dict[str, object],
) -> None:
    inexogy.sim.wrong_shape = shape
    inexogy.sim.meter_faults[GAS_METER_ID] = Fault.WRONG_SHAPE
    first = len(caplog.records)
    await poll(hass, freezer)
    assert state(hass, GAS) == STATE_UNAVAILABLE
    assert state(hass, POWER) != STATE_UNAVAILABLE
    [gone] = our_records(caplog, GAS_METER_ID)
    assert gone.levelno == logging.WARNING
    assert errors_since(caplog, first) == []

    del inexogy.sim.meter_faults[GAS_METER_ID]
    await poll(hass, freezer)
    assert state(hass, GAS) != STATE_UNAVAILABLE


async def test_a_malformed_ready_reading_or_register_fails_only_what_it_carries(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    volume = float(state(hass, WATER_VOLUME))
    ready.sim.wrong_shapes[ready_sim.HEAT_METER_ID] = {"timestamp": None}
    ready.sim.wrong_registers[ready_sim.WATER_METER_ID] = [
        None,
        {"register": "Volume", "value": "a lot", "unit": "m3"},
    ]
    first = len(caplog.records)
    await poll(hass, freezer, 3600)
    await settle(hass, ready)
    assert state(hass, HEAT_ENERGY) == STATE_UNAVAILABLE
    assert float(state(hass, WATER_VOLUME)) > volume
    assert state(hass, WATER_FLOW) != STATE_UNAVAILABLE
    [gone] = our_records(caplog, ready_sim.HEAT_METER_ID)
    assert gone.levelno == logging.WARNING
    assert errors_since(caplog, first) == []


@pytest.mark.parametrize(
    ("retry_after", "seconds"),
    [
        ("date in 5 minutes", 300),
        ("1e9", 3600),  # taken literally, the polling stopped for good
        ("1e20", 3600),
        ("inf", 60),
        ("nan", 60),
    ],
)
async def test_rate_limit_waits_as_asked_within_reason(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    retry_after: str,
    seconds: int,
) -> None:
    if retry_after.startswith("date"):
        # As an HTTP date: 5 minutes after the poll that is refused.
        moment = dt_util.utcnow() + timedelta(seconds=30 + seconds)
        retry_after = format_datetime(moment, usegmt=True)
    inexogy.sim.fault = Fault.RATE_LIMITED
    inexogy.sim.retry_after = retry_after
    await poll(hass, freezer)
    asked = inexogy.sim.request_count("/last_reading")
    inexogy.sim.fault = Fault.NONE
    await poll(hass, freezer, seconds - 5)
    assert inexogy.sim.request_count("/last_reading") == asked
    await poll(hass, freezer, 10)
    assert inexogy.sim.request_count("/last_reading") > asked
    assert state(hass, POWER) != STATE_UNAVAILABLE


@pytest.mark.parametrize(
    "step", ["consumer_token", "request_token", "authorize", "access_token"]
)
@pytest.mark.parametrize("fault", [Fault.HTML_PAGE, Fault.EMPTY_ANSWER])
async def test_inexogy_sign_in_answered_by_something_else(
    hass: HomeAssistant,
    inexogy: Inexogy,
    caplog: pytest.LogCaptureFixture,
    step: str,
    fault: Fault,
) -> None:
    """A captive portal or a proxy's page, with 200: the cloud was not reached."""
    flow_id = await start_inexogy_flow(hass)
    inexogy.sim.oauth_faults[step] = fault
    first = len(caplog.records)
    result = await hass.config_entries.flow.async_configure(
        flow_id, inexogy.user_input()
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert errors_since(caplog, first) == []

    inexogy.sim.oauth_faults.clear()
    result = await hass.config_entries.flow.async_configure(
        flow_id, inexogy.user_input()
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY


@pytest.mark.parametrize(
    "fault", [ready_sim.Fault.HTML_PAGE, ready_sim.Fault.EMPTY_ANSWER]
)
async def test_ready_sign_in_answered_by_something_else(
    hass: HomeAssistant,
    ready: Ready,
    caplog: pytest.LogCaptureFixture,
    fault: ready_sim.Fault,
) -> None:
    """Not a wrong client secret: the sign-in service was not reached."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "kamstrup_ready"}
    )
    flow_id = result["flow_id"]
    ready.sim.token_fault = fault
    first = len(caplog.records)
    result = await hass.config_entries.flow.async_configure(flow_id, ready.user_input())
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "cannot_connect"}
    assert errors_since(caplog, first) == []

    ready.sim.token_fault = ready_sim.Fault.NONE
    result = await hass.config_entries.flow.async_configure(flow_id, ready.user_input())
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await settle(hass, ready)


@pytest.mark.parametrize("code", [-1, True])
async def test_an_info_code_of_minus_one_or_true_is_no_alarm(
    hass: HomeAssistant, ready: Ready, ready_entry: ConfigEntry, code: int
) -> None:
    """-1 has every bit set, and JSON's true is an int to Python."""
    water = [
        s.entity_id
        for s in hass.states.async_all("binary_sensor")
        if s.entity_id.startswith("binary_sensor.water_meter_4567_")
        # Judged from the hours, not from an alarm code.
        and not s.entity_id.endswith("_leak_suspected")
    ]
    assert water
    await ready.sim.push_alarms(ready_sim.WATER_METER_ID, code)
    await settle(hass, ready)
    assert {state(hass, entity_id) for entity_id in water} == {STATE_OFF}
    # A real code still counts.
    await ready.sim.push_alarms(ready_sim.WATER_METER_ID, ready_sim.LEAK)
    await settle(hass, ready)
    assert state(hass, LEAK) == STATE_ON


async def test_a_serial_the_cloud_quotes_stays_out_of_the_log(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The log says which meter and why, not the serial the cloud repeated.

    (Any serial number in a log line fails every test, see conftest.)
    """
    inexogy.sim.meter_faults[GAS_METER_ID] = Fault.REFUSED
    await poll(hass, freezer)
    assert state(hass, GAS) == STATE_UNAVAILABLE
    [gone] = our_records(caplog, GAS_METER_ID)
    assert gone.levelno == logging.WARNING
    assert gone.getMessage().endswith("Invalid meterId: ***")


async def test_a_serial_ready_quotes_stays_out_of_the_log(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    first = len(caplog.records)
    ready.sim.fault = ready_sim.Fault.REFUSED
    await poll(hass, freezer, 3600)
    await settle(hass, ready)
    assert state(hass, WATER_VOLUME) == STATE_UNAVAILABLE
    logged = "\n".join(r.getMessage() for r in caplog.records[first:])
    assert "The meters ***" in logged
    for meter in ready.sim.meters:
        assert meter.serial_number not in logged
