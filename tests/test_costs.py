"""Costs by the hour: consumption times the price of its hour (not wired up yet)."""

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from freezegun.api import FrozenDateTimeFactory
from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import async_import_statistics
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.exceptions import ServiceValidationError
from hypothesis import given, strategies as st
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.quantities import price_unit_fits
from custom_components.smart_meter_cloud.statistics.costs import (
    PriceHistory,
    cost_rows,
)
from custom_components.smart_meter_cloud.statistics.prices import (
    async_entity_prices,
)

from .conftest import (
    HALF_PAST,
    IMPORT_ID,
    T0,
    WATER_ID,
    H,
    Inexogy,
    Ready,
    data_schema,
    poll,
    push_corrected_volume,
    push_next_hour,
    save_options,
    settle,
    statistic_rows,
)

MINUTE = timedelta(minutes=1)
TARIFF = "sensor.tariff"
WATER_PRICE = "sensor.water_price"


def _consumption(used: list[float]) -> list[tuple[datetime, float, float]]:
    """Stored rows for hourly consumption from T0: (start, state, sum)."""
    rows, total = [], 0.0
    for hour, amount in enumerate(used):
        total += amount
        rows.append((T0 + hour * H, 1000 + total, total))
    return rows


def test_each_hour_at_its_own_price() -> None:
    prices = PriceHistory(((T0, 0.30), (T0 + 2 * H, 0.40)))
    rows = cost_rows(_consumption([1.0, 2.0, 3.0]), 0.0, 0.0, prices.price_at)
    assert [r["state"] for r in rows] == pytest.approx([0.30, 0.60, 1.20])
    assert [r["sum"] for r in rows] == pytest.approx([0.30, 0.90, 2.10])


def test_a_price_set_later_applies_from_its_hour_on() -> None:
    prices = PriceHistory().set(T0 + H, 0.5)
    rows = cost_rows(_consumption([4.0, 2.0, 2.0]), 0.0, 0.0, prices.price_at)
    assert [r["start"] for r in rows] == [T0 + H, T0 + 2 * H]
    assert [r["sum"] for r in rows] == pytest.approx([1.0, 2.0])


def test_rows_continue_the_stored_sums() -> None:
    consumption = _consumption([1.0, 1.0, 1.0])[1:]
    rows = cost_rows(consumption, 1.0, 5.0, PriceHistory(((T0, 2.0),)).price_at)
    assert [r["sum"] for r in rows] == pytest.approx([7.0, 9.0])


def test_a_price_removed_books_nothing_until_a_new_one() -> None:
    prices = PriceHistory(((T0, 1.0),)).set(T0 + H, None).set(T0 + 2 * H, 3.0)
    rows = cost_rows(_consumption([1.0, 1.0, 1.0]), 0.0, 0.0, prices.price_at)
    assert [(r["start"], r["sum"]) for r in rows] == [(T0, 1.0), (T0 + 2 * H, 4.0)]


def test_setting_the_same_price_again_keeps_the_history() -> None:
    prices = PriceHistory(((T0, 0.3),))
    assert prices.set(T0 + 5 * H, 0.3) is prices


@given(
    used=st.lists(st.floats(0, 1_000, allow_nan=False), min_size=1, max_size=48),
    price=st.floats(0, 10, allow_nan=False),
)
def test_costs_add_up_and_never_go_negative(used: list[float], price: float) -> None:
    rows = cost_rows(
        _consumption(used), 0.0, 0.0, PriceHistory(((T0, price),)).price_at
    )
    assert all(r["state"] >= 0 for r in rows)
    assert rows[-1]["sum"] == pytest.approx(sum(used) * price)


@pytest.mark.freeze_time(T0)
async def test_an_entitys_price_is_that_of_the_hour(
    hass: HomeAssistant, freezer: FrozenDateTimeFactory
) -> None:
    """The hourly mean where there is one, else the state when the hour began."""
    for moment, price in ((T0, "0.30"), (T0 + 90 * MINUTE, "0.50")):
        freezer.move_to(moment)
        hass.states.async_set(TARIFF, price, {"unit_of_measurement": "EUR/kWh"})
        await async_wait_recording_done(hass)
    async_import_statistics(
        hass,
        StatisticMetaData(
            mean_type=StatisticMeanType.ARITHMETIC,
            has_sum=False,
            name=None,
            source="recorder",
            statistic_id=TARIFF,
            unit_class=None,
            unit_of_measurement="EUR/kWh",
        ),
        [StatisticData(start=T0 + 2 * H, mean=0.45)],
    )
    await async_wait_recording_done(hass)
    freezer.move_to(T0 + 5 * H)  # the readings come late: prices stay the hour's
    hass.states.async_set(TARIFF, "9.99", {"unit_of_measurement": "EUR/kWh"})
    price_at = await async_entity_prices(hass, TARIFF, T0, T0 + 4 * H)
    assert price_at(T0) == 0.30
    assert price_at(T0 + H) == 0.30  # 0.50 came at half past
    assert price_at(T0 + 2 * H) == 0.45
    assert price_at(T0 + 3 * H) == 0.50
    assert price_at(T0 - H) is None


@pytest.mark.parametrize(
    ("price_unit", "unit", "fits"),
    [
        ("EUR/kWh", "kWh", True),
        ("€/m³", "m³", True),
        ("EUR/m³", "kWh", False),
        ("kWh", "kWh", False),
        ("/kWh", "kWh", False),
        (None, "kWh", False),
    ],
)
def test_a_price_is_a_currency_per_unit(
    price_unit: str | None, unit: str, fits: bool
) -> None:
    assert price_unit_fits(price_unit, unit) is fits


async def test_prices_are_set_per_tariff_in_the_options(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    """Per tariff of the account a fixed price or a price entity, checked."""
    options = hass.config_entries.options
    result = await options.async_init(inexogy_entry.entry_id)
    prices = data_schema(result).schema["prices"]
    assert [str(key) for key in prices.schema.schema] == [
        f"{tariff}{suffix}"
        for tariff in ("electricity_import", "electricity_export", "gas", "water")
        for suffix in ("", "_entity")
    ]
    hass.states.async_set("sensor.kwh", "1", {"unit_of_measurement": "kWh"})
    hass.states.async_set("sensor.tariff", "0.3", {"unit_of_measurement": "EUR/kWh"})
    base = {"scan_interval": 30, "history_days": 1}
    for chosen, error in (
        ({"gas_entity": "sensor.tariff"}, "price_unit"),
        ({"electricity_import_entity": "sensor.kwh"}, "price_unit"),
        (
            {"water": 2.0, "water_entity": "sensor.tariff"},
            "price_twice",
        ),
        # Refused by the form, translated, not by the selector in English.
        ({"gas": -0.5}, "price_negative"),
        ({"gas": "inf"}, "price_negative"),
    ):
        result = await options.async_configure(
            result["flow_id"], base | {"prices": chosen}
        )
        assert result["errors"] == {"prices": error}
    chosen = {"electricity_import_entity": "sensor.tariff", "gas": 1.2}
    result = await options.async_configure(result["flow_id"], base | {"prices": chosen})
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert inexogy_entry.options["prices"] == chosen


async def test_a_fixed_price_costs_each_hour_from_when_it_was_set(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    await save_options(
        hass,
        inexogy_entry,
        {
            "scan_interval": 30,
            "history_days": 1,
            "prices": {"electricity_import": 0.25},
        },
    )
    for _ in range(3):
        await poll(hass, freezer, 3600)
    costs = await statistic_rows(hass, f"{IMPORT_ID}_cost")
    # The hour the price was set in and the two after it; none before.
    hours = {T0 + (12 + i) * H: 0.25 for i in range(3)}
    _assert_costed(await statistic_rows(hass, IMPORT_ID), costs, hours)
    assert costs[0]["sum"] == pytest.approx(costs[0]["state"])


def _assert_costed(
    consumption: list[dict[str, float]],
    costs: list[dict[str, float]],
    prices: dict[datetime, float],
) -> None:
    """Each cost row is its hour's consumption at its hour's price; sums add up."""
    used = {
        row["start"]: row["sum"] - before["sum"]
        for before, row in pairwise(consumption)
    }
    assert [datetime.fromtimestamp(r["start"], UTC) for r in costs] == list(prices)
    total = costs[0]["sum"] - costs[0]["state"]
    for row, price in zip(costs, prices.values(), strict=True):
        assert row["state"] == pytest.approx(used[row["start"]] * price)
        total += row["state"]
        assert row["sum"] == pytest.approx(total)


@pytest.mark.freeze_time(HALF_PAST)
async def test_late_pushes_and_corrections_are_costed_at_their_hours_price(
    hass: HomeAssistant,
    ready: Ready,
    ready_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """READY's hours come an hour late, after the tariff changed: never its price."""
    unit = {"unit_of_measurement": "EUR/m³"}
    hass.states.async_set(WATER_PRICE, "2.0", unit)
    await save_options(
        hass,
        ready_entry,
        {
            "scan_interval": 3600,
            "history_days": 1,
            "prices": {"water_entity": WATER_PRICE},
        },
    )
    await settle(hass, ready)
    await push_next_hour(hass, ready, freezer)  # 13:10: the hour from 12:00
    freezer.tick(timedelta(minutes=20))  # 13:30
    hass.states.async_set(WATER_PRICE, "3.0", unit)
    await async_wait_recording_done(hass)
    freezer.tick(timedelta(minutes=10))
    await push_next_hour(hass, ready, freezer)  # 14:10: 13:00, priced at 13:00
    freezer.tick(timedelta(minutes=20))
    await push_next_hour(hass, ready, freezer)  # 15:10: 14:00
    hours = {T0 + 13 * H: 2.0, T0 + 14 * H: 3.0}
    _assert_costed(
        await statistic_rows(hass, WATER_ID),
        await statistic_rows(hass, f"{WATER_ID}_cost"),
        hours,
    )

    # READY corrects the 14:00 total: both hours around it are costed again.
    hour = T0 + 14 * H
    await push_corrected_volume(hass, ready, hour, -0.005)
    consumption = await statistic_rows(hass, WATER_ID)
    _assert_costed(consumption, await statistic_rows(hass, f"{WATER_ID}_cost"), hours)


async def recompute_costs(hass: HomeAssistant, entry: ConfigEntry, start: str) -> None:
    """Ask the `recompute_costs` action to cost an entry's hours from start on."""
    await hass.services.async_call(
        DOMAIN,
        "recompute_costs",
        {"config_entry_id": entry.entry_id, "start": start},
        blocking=True,
    )


async def test_a_price_set_late_costs_the_hours_before_on_request(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    hass_storage: dict[str, Any],
) -> None:
    """The backfilled hours get their cost once asked: at today's fixed price."""
    await save_options(
        hass,
        inexogy_entry,
        {"scan_interval": 30, "history_days": 1, "prices": {"electricity_import": 0.4}},
    )
    assert await statistic_rows(hass, f"{IMPORT_ID}_cost") == []
    consumption = await statistic_rows(hass, IMPORT_ID)
    first = datetime.fromtimestamp(consumption[0]["start"], UTC)
    await recompute_costs(hass, inexogy_entry, first.isoformat())
    costs = await statistic_rows(hass, f"{IMPORT_ID}_cost")
    hours = {datetime.fromtimestamp(r["start"], UTC): 0.4 for r in consumption}
    # The first stored hour's sum is its own consumption.
    _assert_costed(
        [{"start": consumption[0]["start"] - 3600, "sum": 0.0}, *consumption],
        costs,
        hours,
    )
    with pytest.raises(ServiceValidationError):
        await recompute_costs(hass, inexogy_entry, "2100-01-01")
    key = f"{DOMAIN}.{inexogy_entry.entry_id}.prices"
    assert hass_storage[key]["data"]["electricity_import"]
    assert await hass.config_entries.async_remove(inexogy_entry.entry_id)
    assert key not in hass_storage


async def test_costs_follow_when_earlier_history_is_imported(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    freezer: FrozenDateTimeFactory,
) -> None:
    """History reaching further back moves no cost: each hour keeps its price."""
    options: dict[str, Any] = {
        "scan_interval": 30,
        "history_days": 1,
        "prices": {"electricity_import": 0.4},
    }
    await save_options(hass, inexogy_entry, options)
    first = datetime.fromtimestamp(
        (await statistic_rows(hass, IMPORT_ID))[0]["start"], UTC
    )
    await recompute_costs(hass, inexogy_entry, first.isoformat())
    await poll(hass, freezer, 3600)
    before = await statistic_rows(hass, f"{IMPORT_ID}_cost")

    await save_options(hass, inexogy_entry, options | {"history_days": 3})
    consumption = await statistic_rows(hass, IMPORT_ID)
    assert datetime.fromtimestamp(consumption[0]["start"], UTC) < first
    after = await statistic_rows(hass, f"{IMPORT_ID}_cost")
    assert [(r["start"], r["state"]) for r in after] == pytest.approx(
        [(r["start"], r["state"]) for r in before]
    )
    hours = {datetime.fromtimestamp(r["start"], UTC): 0.4 for r in after}
    _assert_costed(consumption, after, hours)
