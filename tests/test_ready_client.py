"""The READY client's pure parts: handshake, signatures, units and alarms."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import aiohttp
from freezegun.api import FrozenDateTimeFactory
import pytest

from custom_components.smart_meter_cloud.api.errors import (
    AuthError,
    BadRequestError,
    CannotConnectError,
    InvalidResponseError,
    RateLimitedError,
)
from custom_components.smart_meter_cloud.api.models import (
    Alarm,
    Medium,
    Meter,
    Quantity,
    Reading,
)
from custom_components.smart_meter_cloud.api.ready import (
    AlarmsPush,
    ReadyClient,
    decode_alarms,
    parse_data_push,
    parse_meter,
    parse_reading,
    parse_status_push,
    signature_valid,
    verification_hash,
)
from tests.simulator import ready as sim

from .conftest import Ready

KEY = "c2VjcmV0LWFwaS1rZXk="


def _client(session: aiohttp.ClientSession, ready: Ready) -> ReadyClient:
    """A client of the simulator's demo tenant."""
    return ReadyClient(
        session,
        tenant_id=sim.DEMO_TENANT_ID,
        client_id=sim.DEMO_CLIENT_ID,
        client_secret=sim.DEMO_CLIENT_SECRET,
        base_url=ready.url,
        token_url=ready.sim.token_url,
    )


def test_verification_hash_known_answer() -> None:
    # Computed with: echo -n token-123 | openssl dgst -sha256 -binary \
    #   -hmac c2VjcmV0LWFwaS1rZXk= | base64
    assert verification_hash(KEY, "token-123") == (
        "waTBfmipBJ5DSddeR0QzOFSemgVijoIosdNu4lvb9Gk="
    )


def test_push_signature_known_answer() -> None:
    body = b'{"type":"MeterReadings"}'
    good = "bXwu+eDiJKckQPyJ9aPpaNVb/EUQ8MpTh+aisnUE3bA="
    assert signature_valid(KEY, body, good)
    assert not signature_valid(KEY, body + b" ", good)
    assert not signature_valid("another-key", body, good)
    assert not signature_valid(KEY, body, None)
    assert not signature_valid(KEY, body, "")


def test_alarm_tables_differ_per_meter_type() -> None:
    assert decode_alarms(Medium.WATER, 4) == frozenset({Alarm.LEAK})
    assert decode_alarms(Medium.HEAT, 4) == frozenset({Alarm.EXTERNAL_ALARM})
    assert decode_alarms(Medium.WATER, 0b10_0010_1000) == frozenset(
        {Alarm.BURST, Alarm.LOW_BATTERY, Alarm.NO_CONSUMPTION}
    )
    assert decode_alarms(Medium.HEAT, 4096 | 128) == frozenset(
        {Alarm.LEAK_INPUT_A, Alarm.INVALID_TEMPERATURE_DIFFERENCE}
    )
    assert decode_alarms(Medium.ELECTRICITY, 4) is None


def _reading(*registers: tuple[str, float, str], info: int = 0) -> dict[str, object]:
    return {
        "meterId": "m",
        "timestamp": "2026-11-23T13:00:00Z",
        "registers": [{"register": r, "value": v, "unit": u} for r, v, u in registers],
        "infoCode": info,
    }


@pytest.mark.parametrize("code", [True, False, -1, -4, 4.0, "4", None])
def test_only_a_non_negative_integer_is_an_info_code(code: object) -> None:
    raw = _reading(("Volume", 1.0, "m3")) | {"infoCode": code}
    reading = parse_reading(raw, Medium.WATER)
    assert reading.alarms is None
    assert reading.info_code is None


async def test_an_info_code_of_true_or_minus_one_raises_no_alarm(ready: Ready) -> None:
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        meters = {meter.id: meter for meter in await client.meters()}
        media = {meter.id: meter.medium for meter in meters.values()}
        for code in (True, -1):
            ready.sim.set_info_code(sim.WATER_METER_ID, code)
            latest = await client.latest_readings([meters[sim.WATER_METER_ID]])
            reading = latest[sim.WATER_METER_ID]
            assert isinstance(reading, Reading)
            assert reading.alarms is None
            assert reading.info_code is None
        alarms = {
            "type": "Alarms",
            "subscriptionId": "s",
            "deliveryId": "d",
            "alarms": [
                {"meterId": meter_id, "timestamp": "2026-11-23T13:00:00Z"}
                | {"infoCode": code}
                for meter_id, code in (
                    (sim.WATER_METER_ID, -1),
                    (sim.WATER_METER_ID, True),
                    (sim.HEAT_METER_ID, 4096),
                )
            ],
        }
    push = parse_data_push(alarms, media)
    assert isinstance(push, AlarmsPush)
    # Only the heat meter's alarm is one.
    assert [(m, a, c) for m, _, a, c in push.alarms] == [
        (sim.HEAT_METER_ID, frozenset({Alarm.LEAK_INPUT_A}), 4096)
    ]


def test_units_become_canonical() -> None:
    reading = parse_reading(
        _reading(
            ("HeatEnergy", 1.5, "MWh"),
            ("Volume", 12.5, "m3"),
            ("Flow", 250, "l/h"),
            ("Power", 2.5, "kW"),
            ("ForwardTemperature", 70.0, "C"),
            ("ReturnTemperature", 40.5, "°C"),
            ("HourCounter", 1234, "h"),
            ("Energy", 3, "furlongs"),
        ),
        Medium.HEAT,
    )
    assert reading.values == {
        Quantity.HEAT_ENERGY: 1500.0,
        Quantity.VOLUME: 12.5,
        Quantity.FLOW: 0.25,
        Quantity.POWER: 2500.0,
        Quantity.FORWARD_TEMPERATURE: 70.0,
        Quantity.RETURN_TEMPERATURE: 40.5,
        Quantity.TEMPERATURE_DIFFERENCE: 29.5,
    }
    assert reading.time == datetime(2026, 11, 23, 13, tzinfo=UTC)
    gigajoules = parse_reading(_reading(("HeatEnergy", 3.6, "GJ")), Medium.HEAT)
    assert gigajoules.values[Quantity.HEAT_ENERGY] == pytest.approx(1000.0)


@pytest.mark.parametrize("temperature", [0.0, 185.0])
def test_heat_sensor_fault_is_dropped(temperature: float) -> None:
    reading = parse_reading(
        _reading(
            ("HeatEnergy", 10, "kWh"),
            ("Flow", 0, "m3/h"),
            ("ForwardTemperature", temperature, "C"),
            ("ReturnTemperature", 40.0, "C"),
        ),
        Medium.HEAT,
    )
    assert reading.values == {Quantity.HEAT_ENERGY: 10}
    # A water meter may well have no flow at 0 °C ambient.
    water = parse_reading(
        _reading(("Flow", 0, "m3/h"), ("AmbientTemperature", 0.0, "C")), Medium.WATER
    )
    assert water.values[Quantity.AMBIENT_TEMPERATURE] == 0.0


def test_a_value_that_is_no_finite_number_never_reaches_a_reading() -> None:
    reading = parse_reading(
        _reading(
            ("Volume", float("nan"), "m3"),
            ("HeatEnergy", 1e306, "MWh"),  # finite, but not in kWh
            ("Power", float("inf"), "kW"),
            ("Flow", True, "m3/h"),
            ("ForwardTemperature", float("-inf"), "C"),
            ("ReturnTemperature", 40.0, "C"),
        ),
        Medium.HEAT,
    )
    assert reading.values == {Quantity.RETURN_TEMPERATURE: 40.0}


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])
async def test_numbers_json_has_not_make_the_answer_invalid(
    ready: Ready, number: str
) -> None:
    """As Home Assistant's own JSON parser: the answer is refused whole."""
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        meters = {meter.id: meter for meter in await client.meters()}
        ready.sim.non_finite = number
        ready.sim.fault = sim.Fault.NON_FINITE
        latest = await client.latest_readings(list(meters.values()))
        assert len(latest) == len(meters)
        assert all(isinstance(r, InvalidResponseError) for r in latest.values())
        end = datetime.fromtimestamp(ready.sim.last_hour(), UTC)
        with pytest.raises(InvalidResponseError):
            await client.history(
                meters[sim.WATER_METER_ID], end - timedelta(hours=3), end
            )


@pytest.mark.parametrize(
    "shape",
    [
        {"timestamp": None},
        {"timestamp": "soon"},
        {"timestamp": 1763900126},
        {"timestamp": "9999-12-31T23:00:00Z"},
        {"timestamp": "1900-01-01T00:00:00Z"},
        {"registers": {"Volume": 1}},
        {"registers": "Volume"},
    ],
    ids=repr,
)
async def test_a_malformed_reading_fails_only_its_meter(
    ready: Ready, shape: dict[str, object]
) -> None:
    ready.sim.wrong_shapes[sim.HEAT_METER_ID] = shape
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        meters = {meter.id: meter for meter in await client.meters()}
        latest = await client.latest_readings(list(meters.values()))
        assert isinstance(latest.pop(sim.HEAT_METER_ID), InvalidResponseError)
        assert all(isinstance(r, Reading) for r in latest.values())
        assert len(latest) == len(meters) - 1
        end = datetime.fromtimestamp(ready.sim.last_hour(), UTC)
        start = end - timedelta(hours=3)
        assert await client.history(meters[sim.HEAT_METER_ID], start, end) == []
        water = meters[sim.WATER_METER_ID]
        assert len(await client.history(water, start, end)) == 4


async def test_a_malformed_register_is_dropped_the_others_kept(ready: Ready) -> None:
    ready.sim.wrong_registers[sim.WATER_METER_ID] = [
        None,
        "Volume",
        [1, 2],
        {"register": "Volume", "value": None, "unit": "m3"},
        {"register": "Volume", "value": "1234.5", "unit": "m3"},
        {"register": "Flow", "value": True, "unit": "m3/h"},
        {"register": "Flow", "value": {"m3/h": 1}, "unit": "m3/h"},
        {"register": ["Flow"], "value": 1.0, "unit": "m3/h"},
    ]
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        meters = {meter.id: meter for meter in await client.meters()}
        latest = await client.latest_readings([meters[sim.WATER_METER_ID]])
    reading = latest[sim.WATER_METER_ID]
    assert isinstance(reading, Reading)
    at = datetime.fromtimestamp(ready.sim.last_hour(), UTC)
    expected = {
        r["register"]: r["value"]
        for r in ready.sim.reading(sim.WATER_METER_ID, at)["registers"]
    }
    assert reading.values == {
        Quantity.VOLUME: expected["Volume"],
        Quantity.FLOW: expected["Flow"],
        Quantity.WATER_TEMPERATURE: expected["WaterTemperature"],
        Quantity.AMBIENT_TEMPERATURE: expected["AmbientTemperature"],
    }


def test_parse_meter() -> None:
    assert parse_meter({"meterId": "x", "meterType": "Gas"}) is None
    meter = parse_meter({"meterId": "x", "meterType": "HeatCooling"})
    assert meter is not None
    assert meter.medium is Medium.HEAT
    assert Alarm.AIR_IN_FLOW_SENSOR in meter.alarms


async def test_client_errors_and_token_renewal(ready: Ready) -> None:
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        assert len(await client.meters()) == 5
        assert ready.sim.tokens_issued == 1
        # A revoked token is renewed once, silently.
        ready.sim.revoke_tokens()
        assert len(await client.first_meters()) == 5
        assert ready.sim.tokens_issued == 2

        with pytest.raises(BadRequestError) as missing:
            await client.history(
                Meter("no-such-meter", Medium.WATER, "", None, "", active=True),
                datetime(2026, 11, 23, tzinfo=UTC),
                datetime(2026, 11, 24, tzinfo=UTC),
            )
        assert missing.value.status == 404
        await client.delete_subscription("no-such-subscription")

        ready.sim.fault = sim.Fault.RATE_LIMITED
        with pytest.raises(RateLimitedError) as limited:
            await client.meters()
        assert limited.value.retry_after == 30
        ready.sim.retry_after = "1e9"
        with pytest.raises(RateLimitedError) as limited:
            await client.meters()
        assert limited.value.retry_after == 3600
        ready.sim.retry_after = format_datetime(
            datetime.now(UTC) + timedelta(seconds=90), usegmt=True
        )
        with pytest.raises(RateLimitedError) as limited:
            await client.meters()
        assert limited.value.retry_after == pytest.approx(90, abs=1)
        ready.sim.fault = sim.Fault.SERVER_ERROR
        with pytest.raises(CannotConnectError):
            await client.meters()
        ready.sim.fault = sim.Fault.NONE

        ready.sim.client_secret = "rotated"
        ready.sim.revoke_tokens()
        with pytest.raises(AuthError):
            await client.meters()


@pytest.mark.parametrize("fault", [sim.Fault.HTML_PAGE, sim.Fault.EMPTY_ANSWER])
async def test_answered_by_something_else_cannot_connect(
    ready: Ready, fault: sim.Fault
) -> None:
    """A captive portal or a proxy's page, with 200: not the cloud's answer."""
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        ready.sim.token_fault = fault
        with pytest.raises(CannotConnectError, match="token"):
            await client.first_meters()
        ready.sim.token_fault = sim.Fault.NONE
        meters = {meter.id: meter for meter in await client.meters()}
        ready.sim.fault = fault
        with pytest.raises(CannotConnectError):
            await client.meters()
        latest = await client.latest_readings(list(meters.values()))
        assert all(isinstance(r, CannotConnectError) for r in latest.values())


async def test_a_serial_the_cloud_quotes_is_not_repeated(ready: Ready) -> None:
    """The error's text reaches Home Assistant's log, and issue reports."""
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        meters = {meter.id: meter for meter in await client.meters()}
        ready.sim.fault = sim.Fault.REFUSED
        latest = await client.latest_readings(list(meters.values()))
        end = datetime.fromtimestamp(ready.sim.last_hour(), UTC)
        with pytest.raises(BadRequestError) as history:
            await client.history(
                meters[sim.WATER_METER_ID], end - timedelta(hours=1), end
            )
    assert str(history.value) == (
        "HTTP 400: Bad Request The meters *** cannot be read now."
    )
    refused = latest[sim.WATER_METER_ID]
    assert isinstance(refused, BadRequestError)
    assert str(refused).startswith("HTTP 400: Bad Request The meters ***, ***")
    for meter in ready.sim.meters:
        assert meter.serial_number not in str(refused)


@pytest.mark.parametrize("fault", [sim.Fault.NON_FINITE, sim.Fault.WRONG_SHAPE])
async def test_a_token_without_a_lifetime_is_invalid(
    ready: Ready, fault: sim.Fault
) -> None:
    """NaN or "an hour": not asked again in time, or asked before every call."""
    ready.sim.token_fault = fault
    async with aiohttp.ClientSession() as session:
        with pytest.raises(InvalidResponseError, match="token"):
            await _client(session, ready).first_meters()


async def test_a_throttled_sign_in_is_no_wrong_secret(ready: Ready) -> None:
    """The sign-in service answers 429: wait as it says, do not sign in anew."""
    ready.sim.token_fault = sim.Fault.RATE_LIMITED
    ready.sim.retry_after = 120
    async with aiohttp.ClientSession() as session:
        with pytest.raises(RateLimitedError) as throttled:
            await _client(session, ready).first_meters()
    assert throttled.value.retry_after == 120


@pytest.mark.parametrize("data", [None, [], "reading"])
def test_parse_reading_refuses_what_is_no_reading(data: object) -> None:
    with pytest.raises(InvalidResponseError):
        parse_reading(data, Medium.WATER)


def test_a_reading_without_registers_has_no_values() -> None:
    raw = _reading() | {"registers": None}
    assert parse_reading(raw, Medium.WATER).values == {}


def test_malformed_pushes_are_refused() -> None:
    for body in (
        {},
        {"type": "MeterReadings", "subscriptionId": "s"},
        {"type": "Nonsense", "subscriptionId": "s", "deliveryId": "d"},
        {"type": "Alarms", "subscriptionId": "s", "deliveryId": "d", "alarms": [{}]},
    ):
        with pytest.raises(InvalidResponseError):
            parse_data_push(body, {})
    with pytest.raises(InvalidResponseError):
        parse_status_push({"status": "Active"})


async def test_paging_batches_and_history(ready: Ready) -> None:
    ready.sim.set_meter_count(250)
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        meters = await client.meters()
        assert len(meters) == 250
        assert ready.sim.request_count("/api/v1/meters") == 3
        latest = await client.latest_readings(meters)
        assert len(latest) == 250
        assert ready.sim.request_count("/api/v1/readings/latest") == 3

        end = datetime.fromtimestamp(ready.sim.clock() // 3600 * 3600, UTC)
        water = next(m for m in meters if m.id == sim.WATER_METER_ID)
        history = await client.history(water, end - timedelta(hours=3), end)
        assert [r.time for r in history] == [
            end - timedelta(hours=h) for h in (3, 2, 1, 0)
        ]
        volumes = [r.values[Quantity.VOLUME] for r in history]
        assert volumes == sorted(volumes)

        ready.sim.fault = sim.Fault.SERVER_ERROR
        failed = await client.latest_readings([water])
        assert isinstance(failed[sim.WATER_METER_ID], CannotConnectError)


async def test_token_is_renewed_before_it_expires(
    ready: Ready, freezer: FrozenDateTimeFactory
) -> None:
    async with aiohttp.ClientSession() as session:
        client = _client(session, ready)
        await client.first_meters()
        freezer.tick(timedelta(seconds=3000))
        await client.first_meters()
        assert ready.sim.tokens_issued == 1
        # A minute before the token's hour is up, a new one is fetched.
        freezer.tick(timedelta(seconds=560))
        await client.first_meters()
        assert ready.sim.tokens_issued == 2
        assert ready.sim.request_count("/api/v1/meters") == 3
