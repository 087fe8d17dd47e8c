"""The HA-free inexogy client against the simulator, and its pure parts."""

from datetime import UTC, datetime, timedelta
import logging
from urllib.parse import urlencode

import aiohttp
from oauthlib import oauth1
from oauthlib.oauth1.rfc5849.utils import parse_authorization_header
import pytest

from custom_components.smart_meter_cloud.api.errors import (
    AuthError,
    BadRequestError,
    CannotConnectError,
    InvalidResponseError,
    RateLimitedError,
)
from custom_components.smart_meter_cloud.api.inexogy import (
    DataSigner,
    InexogyClient,
    InexogyCredentials,
    oauth as inexogy_api,
    parse_meter,
    parse_reading,
)
from custom_components.smart_meter_cloud.api.models import (
    Medium,
    Meter,
    Quantity,
    Reading,
)
from custom_components.smart_meter_cloud.coordinator import keep_totals_monotonic
from tests.simulator.inexogy import (
    ALIAS_METER_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    ELECTRICITY_METER_ID,
    GAS_METER_ID,
    INACTIVE_METER_ID,
    Fault,
)

from .conftest import Inexogy

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def _meters(*meter_ids: str) -> list[Meter]:
    """Meters of the demo account, as its list names them."""
    media = {ELECTRICITY_METER_ID: Medium.ELECTRICITY, GAS_METER_ID: Medium.GAS}
    return [
        Meter(meter_id, media[meter_id], "", None, "", active=True)
        for meter_id in meter_ids
    ]


async def _assert_only_gas_fails(client: InexogyClient, error: type[Exception]) -> None:
    """Asked for both meters' latest readings: the gas meter's is the error."""
    latest = await client.latest_readings(_meters(ELECTRICITY_METER_ID, GAS_METER_ID))
    assert isinstance(latest[GAS_METER_ID], error)
    assert isinstance(latest[ELECTRICITY_METER_ID], Reading)


@pytest.fixture
def client(inexogy_client: InexogyClient) -> InexogyClient:
    return inexogy_client


@pytest.mark.freeze_time(NOW)
async def test_hourly_history(client: InexogyClient) -> None:
    readings = await client.readings(
        ELECTRICITY_METER_ID, NOW - timedelta(hours=3), NOW
    )
    assert [r.time for r in readings] == [
        NOW - timedelta(hours=h) for h in (3, 2, 1, 0)
    ]
    totals = [r.values[Quantity.ENERGY_IMPORT] for r in readings]
    assert totals == sorted(totals)


async def test_signing_never_logs_the_tokens(
    inexogy: Inexogy, caplog: pytest.LogCaptureFixture
) -> None:
    """Oauthlib logs what it signs with at debug level; none of it gets out."""
    caplog.set_level(logging.DEBUG, logger="oauthlib")
    async with aiohttp.ClientSession() as session:
        client = InexogyClient(session, base_url=inexogy.url)
        credentials = await client.authorize(DEMO_EMAIL, DEMO_PASSWORD)
        await client.last_reading(ELECTRICITY_METER_ID)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (credentials.access_token, credentials.consumer_key, DEMO_PASSWORD):
        assert secret not in logged


async def test_aliases_fold_into_one_vocabulary(client: InexogyClient) -> None:
    reading = await client.last_reading(ALIAS_METER_ID)
    assert {Quantity.POWER_L1, Quantity.POWER_L2, Quantity.POWER_L3} <= set(
        reading.values
    )
    assert Quantity.VOLTAGE_L1 not in reading.values


async def test_bad_request_carries_the_api_text(client: InexogyClient) -> None:
    with pytest.raises(BadRequestError, match="Invalid meterId: nope"):
        await client.last_reading("nope")


async def test_a_serial_the_cloud_quotes_is_not_repeated(
    client: InexogyClient, inexogy: Inexogy
) -> None:
    """The error's text reaches Home Assistant's log, and issue reports."""
    inexogy.sim.meter_faults[GAS_METER_ID] = Fault.REFUSED
    latest = await client.latest_readings(_meters(GAS_METER_ID))
    refused = latest[GAS_METER_ID]
    assert isinstance(refused, BadRequestError)
    serial = inexogy.sim.meter(GAS_METER_ID).data["fullSerialNumber"]
    assert str(refused) == "400 Bad Request: Invalid meterId: ***"
    assert serial not in str(refused)


async def test_errors_a_caller_can_act_on(
    client: InexogyClient, inexogy: Inexogy
) -> None:
    inexogy.sim.fault = Fault.RATE_LIMITED
    inexogy.sim.retry_after = 42
    with pytest.raises(RateLimitedError) as limited:
        await client.meters()
    assert limited.value.retry_after == 42
    inexogy.sim.fault = Fault.SERVER_ERROR
    with pytest.raises(CannotConnectError, match="HTTP 502"):
        await client.meters()
    inexogy.sim.fault = Fault.MALFORMED_JSON
    with pytest.raises(InvalidResponseError):
        await client.meters()
    inexogy.sim.fault = Fault.REVOKED_TOKEN
    with pytest.raises(AuthError):
        await client.meters()


OAUTH_STEPS = ["consumer_token", "request_token", "authorize", "access_token"]


@pytest.mark.parametrize("step", OAUTH_STEPS)
@pytest.mark.parametrize("fault", [Fault.HTML_PAGE, Fault.EMPTY_ANSWER])
async def test_a_sign_in_answered_by_something_else_cannot_connect(
    inexogy: Inexogy, step: str, fault: Fault
) -> None:
    """A captive portal or a proxy's page, with 200: not the cloud's answer."""
    inexogy.sim.oauth_faults[step] = fault
    async with aiohttp.ClientSession() as session:
        client = InexogyClient(session, base_url=inexogy.url)
        with pytest.raises(CannotConnectError, match=step):
            await client.authorize(DEMO_EMAIL, DEMO_PASSWORD)
        assert client.credentials is None


@pytest.mark.parametrize("step", OAUTH_STEPS)
async def test_a_sign_in_step_without_its_tokens_is_invalid(
    inexogy: Inexogy, step: str
) -> None:
    inexogy.sim.oauth_faults[step] = Fault.WRONG_SHAPE
    async with aiohttp.ClientSession() as session:
        client = InexogyClient(session, base_url=inexogy.url)
        with pytest.raises(InvalidResponseError, match=step):
            await client.authorize(DEMO_EMAIL, DEMO_PASSWORD)


@pytest.mark.parametrize("fault", [Fault.HTML_PAGE, Fault.EMPTY_ANSWER])
async def test_data_answered_by_something_else_cannot_connect(
    client: InexogyClient, inexogy: Inexogy, fault: Fault
) -> None:
    inexogy.sim.meter_faults[GAS_METER_ID] = fault
    await _assert_only_gas_fails(client, CannotConnectError)
    inexogy.sim.fault = fault
    with pytest.raises(CannotConnectError):
        await client.meters()


async def test_unauthorized_client_does_not_ask() -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(AuthError):
            await InexogyClient(session).meters()


def test_parse_meter_skips_unknown_kinds() -> None:
    assert parse_meter({"meterId": "x", "measurementType": "PRESSURE"}) is None
    meter = parse_meter(
        {"meterId": "x", "measurementType": "gas", "firstMeasurementTime": -1}
    )
    assert meter is not None
    assert meter.medium is Medium.GAS
    assert not meter.active
    assert meter.manufacturer == "inexogy"
    assert meter.model is None


@pytest.mark.parametrize(
    ("manufacturer_id", "family", "shown"),
    [
        # A type that only names the maker again is no model.
        ("ESY", "EASYMETER", ("EasyMeter", None)),
        ("LGZ", "LANDIS_GYR", ("Landis+Gyr", None)),
        ("ISK", "RLM", ("Iskraemeco", "RLM")),
        ("SEN", "WATER", ("Sensus", None)),
        # Unknown codes pass through as they came.
        ("XYZ", "XYZ 100", ("XYZ", "XYZ 100")),
    ],
)
def test_parse_meter_names_maker_and_model(
    manufacturer_id: str, family: str, shown: tuple[str, str | None]
) -> None:
    meter = parse_meter(
        {
            "meterId": "x",
            "measurementType": "ELECTRICITY",
            "manufacturerId": manufacturer_id,
            "type": family,
        }
    )
    assert meter is not None
    assert (meter.manufacturer, meter.model) == shown


def test_a_heat_meters_energy_is_heat() -> None:
    raw = {"time": 0, "values": {"energy": 10**10}}
    assert parse_reading(raw, Medium.HEAT).values == {Quantity.HEAT_ENERGY: 1.0}
    assert parse_reading(raw).values == {Quantity.ENERGY_IMPORT: 1.0}


def test_parse_reading_scales_to_canonical_units() -> None:
    reading = parse_reading(
        {
            "time": 1763900126702,
            "values": {
                "energy": 119348699715000,
                "energyOut": 55048723044000,
                "power": -412330,
                "phase1Voltage": 239800,
                "phase2Current": 1234,
                "volume": 5000,
                "somethingNew": 7,
                "energy1": "n/a",
            },
        }
    )
    assert reading.values == {
        Quantity.ENERGY_IMPORT: pytest.approx(11934.8699715),
        Quantity.ENERGY_EXPORT: pytest.approx(5504.8723044),
        Quantity.POWER: pytest.approx(-412.33),
        Quantity.VOLTAGE_L1: pytest.approx(239.8),
        Quantity.CURRENT_L2: pytest.approx(1.234),
        Quantity.VOLUME: pytest.approx(5.0),
    }
    assert reading.time == datetime(2025, 11, 23, 12, 15, 26, 702000, tzinfo=UTC)


NON_FINITE = ["NaN", "Infinity", "-Infinity", "1e400", "-1e400"]


@pytest.mark.freeze_time(NOW)
@pytest.mark.parametrize("number", NON_FINITE)
async def test_numbers_json_has_not_make_the_answer_invalid(
    client: InexogyClient, inexogy: Inexogy, number: str
) -> None:
    """As Home Assistant's own JSON parser: only the meter concerned fails."""
    inexogy.sim.non_finite = number
    inexogy.sim.meter_faults[GAS_METER_ID] = Fault.NON_FINITE
    await _assert_only_gas_fails(client, InvalidResponseError)
    with pytest.raises(InvalidResponseError):
        await client.readings(GAS_METER_ID, NOW - timedelta(hours=3), NOW)


@pytest.mark.parametrize(
    "shape",
    [
        {"time": 1e20},
        {"time": -1},
        {"time": -1e20},
        {"time": 4102444800000},  # 2100
        {"time": "1763900126702"},
        {"time": True},
        {"time": None},
        {"values": None},
        {"values": [1, 2]},
        {"values": "energy"},
    ],
    ids=repr,
)
async def test_a_reading_of_the_wrong_shape_fails_only_its_meter(
    client: InexogyClient, inexogy: Inexogy, shape: dict[str, object]
) -> None:
    inexogy.sim.wrong_shape = shape
    inexogy.sim.meter_faults[GAS_METER_ID] = Fault.WRONG_SHAPE
    await _assert_only_gas_fails(client, InvalidResponseError)


@pytest.mark.parametrize("data", [None, [], "reading", {"time": 0}, {"values": {}}])
def test_parse_reading_refuses_what_is_no_reading(data: object) -> None:
    with pytest.raises(InvalidResponseError):
        parse_reading(data)


def test_a_value_that_is_no_finite_number_never_reaches_a_reading() -> None:
    reading = parse_reading(
        {
            "time": 1763900126702,
            "values": {
                "energy": float("nan"),
                "energyOut": float("inf"),
                "energy1": float("-inf"),
                "energy2": 10**400,  # no float holds it
                "power": True,
                "voltage1": 230_000,
            },
        }
    )
    assert reading.values == {Quantity.VOLTAGE_L1: 230.0}


def _reading(**values: float) -> Reading:
    return Reading(NOW, {Quantity(k): v for k, v in values.items()})


def test_totals_never_go_backwards() -> None:
    before = _reading(energy_import=100.0, energy_export=50.0, power=10.0)
    lower = keep_totals_monotonic(
        before, _reading(energy_import=99.0, energy_export=51.0, power=20.0)
    )
    assert lower.values == {
        Quantity.ENERGY_IMPORT: 100.0,
        Quantity.ENERGY_EXPORT: 51.0,
        Quantity.POWER: 20.0,
    }
    zeros = keep_totals_monotonic(
        before, _reading(energy_import=0.0, energy_export=0.0, power=5.0)
    )
    assert zeros.values[Quantity.ENERGY_IMPORT] == 100.0
    # Without an earlier value a glitch shows nothing rather than zero.
    first = keep_totals_monotonic(None, _reading(energy_import=0.0, power=5.0))
    assert first.values == {Quantity.POWER: 5.0}
    # A register that is zero on its own (an unused tariff) is real.
    tariff = keep_totals_monotonic(
        None, _reading(energy_import=5.0, energy_export_tariff_1=0.0)
    )
    assert tariff.values[Quantity.ENERGY_EXPORT_TARIFF_1] == 0.0


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        (" 30 ", 30.0),
        ("0", 1.0),
        ("-5", 1.0),
        (None, 60.0),
        ("", 60.0),
        ("soon", 60.0),
        # Beyond reason: an hour at most, or the polling stops for good.
        ("1e9", 3600.0),
        ("1e20", 3600.0),
        # No number at all: as if the cloud said nothing.
        ("inf", 60.0),
        ("-Infinity", 60.0),
        ("nan", 60.0),
        ("1e400", 60.0),
        # HTTP dates (RFC 9110), relative to now.
        ("Mon, 23 Nov 2026 12:05:00 GMT", 300.0),
        ("Mon, 23 Nov 2026 13:00:00 +0100", 1.0),  # noon in UTC: past
        ("Mon, 23 Nov 2026 12:10:00 -0000", 600.0),
        ("Mon, 30 Nov 2026 12:00:00 GMT", 3600.0),
        ("Sun, 22 Nov 2026 12:00:00 GMT", 1.0),
        ("Mon, 32 Nov 2026 12:00:00 GMT", 60.0),
    ],
)
def test_retry_after_header(header: str | None, seconds: float) -> None:
    error = RateLimitedError.from_header(header, now=NOW)
    assert error.retry_after == seconds


@pytest.mark.freeze_time(NOW)
async def test_retry_after_as_an_http_date(
    client: InexogyClient, inexogy: Inexogy
) -> None:
    """Relative to the clock now, whichever of the two clients reads it."""
    inexogy.sim.fault = Fault.RATE_LIMITED
    inexogy.sim.retry_after = "Mon, 23 Nov 2026 12:02:00 GMT"
    with pytest.raises(RateLimitedError) as limited:
        await client.meters()
    assert limited.value.retry_after == 120.0


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (aiohttp.encode_basic_auth(DEMO_EMAIL.upper(), DEMO_PASSWORD), 200),
        (aiohttp.encode_basic_auth(DEMO_EMAIL, "wrong"), 401),
        ("Basic not-base64!", 401),
        (None, 401),
    ],
    ids=["right", "wrong-password", "malformed", "none"],
)
async def test_simulator_takes_basic_auth_as_the_api_does(
    inexogy: Inexogy, authorization: str | None, status: int
) -> None:
    """Other clients (Home Assistant's discovergy) send e-mail and password."""
    headers = {"Authorization": authorization} if authorization else {}
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{inexogy.url}/last_reading",
            params={"meterId": ELECTRICITY_METER_ID},
            headers=headers,
        ) as response,
    ):
        assert response.status == status
        if status == 200:
            assert "energy" in (await response.json())["values"]
        else:
            assert response.content_type == "text/plain"


async def test_simulator_inactive_meter_reading(inexogy: Inexogy) -> None:
    """Refused by default; an empty reading when the simulator is told so."""
    headers = {"Authorization": aiohttp.encode_basic_auth(DEMO_EMAIL, DEMO_PASSWORD)}
    params = {"meterId": INACTIVE_METER_ID}
    url = f"{inexogy.url}/last_reading"
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(url, params=params) as r:
            assert r.status == 400
        inexogy.sim.inactive_reads_empty = True
        async with session.get(url, params=params) as r:
            assert r.status == 200
            assert (await r.json())["values"] == {}


async def test_signature_holds_for_values_that_need_escaping(
    client: InexogyClient,
) -> None:
    """The cloud checks the signature first: a wrong one would be a 401."""
    with pytest.raises(BadRequestError, match="Invalid meterId"):
        await client.last_reading("a b/ü~&=%")


@pytest.mark.parametrize(
    "params",
    [
        {"meterId": ELECTRICITY_METER_ID},
        {"meterId": "a b/ü~&=%+", "from": "1", "fields": "energy,power"},
        None,
    ],
)
def test_data_signature_is_oauthlibs(
    monkeypatch: pytest.MonkeyPatch, params: dict[str, str] | None
) -> None:
    """The same header as oauthlib's Client.sign, for the same nonce and time."""
    credentials = InexogyCredentials("ck~1", "cs&2", "at 3", "as=4")
    monkeypatch.setattr(inexogy_api, "generate_nonce", lambda: "4711")
    monkeypatch.setattr(inexogy_api, "generate_timestamp", lambda: "1763900000")
    url = "HTTP://Example.COM:80/public/v1/last_reading"
    ours = DataSigner(credentials).authorization("get", url, params)
    _, headers, _ = oauth1.Client(
        "ck~1",
        "cs&2",
        resource_owner_key="at 3",
        resource_owner_secret="as=4",
        nonce="4711",
        timestamp="1763900000",
    ).sign(f"{url}?{urlencode(params)}" if params else url, "GET")
    assert _oauth_params(ours) == _oauth_params(headers["Authorization"])


def _oauth_params(header: str) -> dict[str, str]:
    return dict(parse_authorization_header(header))
