"""The inexogy client's appliances (disaggregation) against the simulator."""

from datetime import UTC, datetime, timedelta

import pytest

from custom_components.smart_meter_cloud.api.errors import (
    CannotConnectError,
    InvalidResponseError,
)
from custom_components.smart_meter_cloud.api.inexogy import (
    InexogyClient,
    parse_appliance,
)
from custom_components.smart_meter_cloud.api.inexogy.parsing import (
    parse_activities,
    parse_appliances,
    parse_disaggregation,
    whole_hours,
)
from custom_components.smart_meter_cloud.api.models import (
    Appliance,
    ApplianceClient,
    Medium,
    Meter,
)
from custom_components.smart_meter_cloud.api.ready import ReadyClient
from tests.simulator.inexogy import (
    ALIAS_METER_ID,
    ELECTRICITY_METER_ID,
    Fault,
    InexogySimulator,
    Missing,
)
from tests.simulator.inexogy.appliances import QUARTER_MS, quarters

from .conftest import T0, H, Inexogy

NOW = T0 + 12 * H
TWO_WAY = Meter(ELECTRICITY_METER_ID, Medium.ELECTRICITY, "", None, "", active=True)
ALIAS = Meter(ALIAS_METER_ID, Medium.ELECTRICITY, "", None, "", active=True)


@pytest.fixture
def client(inexogy_client: InexogyClient) -> InexogyClient:
    return inexogy_client


def test_only_the_inexogy_client_offers_appliances() -> None:
    assert issubclass(InexogyClient, ApplianceClient)
    assert not issubclass(ReadyClient, ApplianceClient)


@pytest.mark.freeze_time(NOW)
async def test_appliances_of_the_two_way_meter(client: InexogyClient) -> None:
    found = await client.appliances(TWO_WAY)
    assert found is not None
    assert [a.id for a in found] == [
        "base_load_1",
        "refrigerator_1",
        "heat_pump_1",
        "washing_machine_1",
        "dishwasher_1",
    ]
    assert found[-1] == Appliance("dishwasher_1", "dishwasher", 1, "DISHWASHER-1")


@pytest.mark.freeze_time(NOW)
@pytest.mark.parametrize("missing", list(Missing))
async def test_a_meter_without_disaggregation_has_none(
    client: InexogyClient, inexogy: Inexogy, missing: Missing
) -> None:
    inexogy.sim.missing_appliances = missing
    assert await client.appliances(ALIAS) is None


@pytest.mark.freeze_time(NOW)
@pytest.mark.parametrize("german", [False, True])
async def test_energy_per_whole_hour(
    client: InexogyClient, inexogy: Inexogy, german: bool
) -> None:
    inexogy.sim.german_appliances = german
    hours = await client.appliance_energy(TWO_WAY, NOW - 3 * H, NOW)
    assert list(hours) == [NOW - 3 * H, NOW - 2 * H, NOW - H]
    for hour, energy in hours.items():
        ms = int(hour.timestamp()) * 1000
        expected = inexogy.sim.appliance_energy(ELECTRICITY_METER_ID, ms)
        assert energy == pytest.approx(
            {parse_appliance(name).id: kwh for name, kwh in expected.items()}  # type: ignore[union-attr]
        )
    # The base load of 50 W, the fridge half of every hour at 80 W.
    assert hours[NOW - H]["base_load_1"] == pytest.approx(0.05)
    assert hours[NOW - H]["refrigerator_1"] == pytest.approx(0.04)


@pytest.mark.freeze_time(NOW + timedelta(minutes=40))
async def test_an_hour_without_all_its_quarters_waits(
    client: InexogyClient, inexogy: Inexogy
) -> None:
    # Quarters published half an hour late: of 11:00, those to 11:45 came,
    # of 12:00 none yet; of 11:00 with `to` at 11:30, only half.
    inexogy.sim.appliance_delay_hours = 0.5
    hours = await client.appliance_energy(TWO_WAY, NOW - 2 * H, NOW + H)
    assert list(hours) == [NOW - 2 * H, NOW - H]
    cut = await client.appliance_energy(TWO_WAY, NOW - H, NOW - H / 2)
    assert cut == {}


@pytest.mark.freeze_time(NOW)
async def test_runs(client: InexogyClient) -> None:
    runs = await client.appliance_runs(TWO_WAY, NOW - 24 * H, NOW)
    kinds = {run.appliance_id for run in runs}
    assert kinds == {
        "refrigerator_1",
        "heat_pump_1",
        "washing_machine_1",
        "dishwasher_1",
    }
    heat_pump = next(run for run in runs if run.appliance_id == "heat_pump_1")
    assert heat_pump.start == datetime(2026, 11, 23, tzinfo=UTC)
    assert heat_pump.end - heat_pump.start == 6 * H
    assert heat_pump.energy == pytest.approx(0.6)
    assert len({run.run_id for run in runs}) == len(runs)


@pytest.mark.freeze_time(NOW)
@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.SERVER_ERROR, CannotConnectError),
        (Fault.MALFORMED_JSON, InvalidResponseError),
        (Fault.WRONG_SHAPE, InvalidResponseError),
    ],
)
async def test_faults_are_errors_a_caller_can_act_on(
    client: InexogyClient, inexogy: Inexogy, fault: Fault, error: type[Exception]
) -> None:
    inexogy.sim.appliance_fault = fault
    with pytest.raises(error):
        await client.appliances(TWO_WAY)
    with pytest.raises(error):
        await client.appliance_runs(TWO_WAY, NOW - H, NOW)
    if fault is not Fault.WRONG_SHAPE:  # an object of no quarters is none
        with pytest.raises(error):
            await client.appliance_energy(TWO_WAY, NOW - H, NOW)


@pytest.mark.parametrize(
    ("name", "appliance"),
    [
        ("DISHWASHER-1", Appliance("dishwasher_1", "dishwasher", 1, "DISHWASHER-1")),
        (
            "Spülmaschine-2",
            Appliance("dishwasher_2", "dishwasher", 2, "Spülmaschine-2"),
        ),
        ("Grundlast-1", Appliance("base_load_1", "base_load", 1, "Grundlast-1")),
        (
            "Elektromobilität-1",
            Appliance(
                "electric_vehicle_1", "electric_vehicle", 1, "Elektromobilität-1"
            ),
        ),
        (
            "Durchlauferhitzer-1",
            Appliance("water_heater_1", "water_heater", 1, "Durchlauferhitzer-1"),
        ),
        ("SAUNA-3", Appliance("sauna_3", "sauna", 3, "SAUNA-3")),
        ("HEAT_PUMP", Appliance("heat_pump_1", "heat_pump", 1, "HEAT_PUMP")),
        ("", None),
        ("---", None),
        (7, None),
        (None, None),
    ],
)
def test_names_become_appliances(name: object, appliance: Appliance | None) -> None:
    assert parse_appliance(name) == appliance


def test_malformed_entries_are_skipped() -> None:
    assert parse_appliances([]) is None
    assert parse_appliances(["OVEN-1", 3, None, "OVEN-1"]) == [
        Appliance("oven_1", "oven", 1, "OVEN-1")
    ]
    with pytest.raises(InvalidResponseError):
        parse_appliances({"OVEN-1": 1})
    quarters = parse_disaggregation(
        {
            "1593561600000": {"Grundlast-1": 257500000, "Kühlschrank-1": "x", 3: 1},
            "1593562500000": {"Grundlast-1": -1, "Backofen-1": float("nan")},
            "1593563400000": None,
            "1593563500000": {"Grundlast-1": 1},  # not a quarter's start
            "soon": {"Grundlast-1": 1},
            "-1": {"Grundlast-1": 1},
        }
    )
    start = datetime(2020, 7, 1, tzinfo=UTC)
    assert quarters == {
        start: {"base_load_1": pytest.approx(0.02575)},
        start + timedelta(minutes=15): {},
    }
    assert whole_hours(quarters) == {}  # two quarters of four
    with pytest.raises(InvalidResponseError):
        parse_disaggregation([])
    good = {
        "activityId": 37889619,
        "beginTime": 1593565296000,
        "endTime": 1593565902000,
        "deviceId": 1,
        "deviceName": "REFRIGERATOR-1",
        "deviceType": "REFRIGERATOR",
        "energy": 70700000,
    }
    runs = parse_activities(
        [
            good,
            good | {"endTime": 1},  # ends before it began
            good | {"energy": None},
            good | {"deviceName": 5},
            good | {"activityId": True},
            "run",
        ]
    )
    assert len(runs) == 1
    assert runs[0].appliance_id == "refrigerator_1"
    assert runs[0].run_id == "37889619"
    assert runs[0].energy == pytest.approx(0.00707)
    with pytest.raises(InvalidResponseError):
        parse_activities({})


def test_the_demo_appliances_use_no_more_than_the_meter_imports() -> None:
    """Each quarter of a day: the appliances' energy is within the meter's import."""
    sim = InexogySimulator()
    meter = sim.meter(ELECTRICITY_METER_ID)
    start = int(NOW.timestamp()) * 1000
    for ms in range(start, start + 86_400_000, QUARTER_MS):
        imported = (
            meter.values_at(ms + QUARTER_MS, False)["energy"]
            - meter.values_at(ms, False)["energy"]
        )
        quarter = quarters(sim.appliances[ELECTRICITY_METER_ID], ms, ms, False)
        used = sum(quarter[str(ms)].values())
        assert 0 < used <= imported
