"""Reading and writing our external statistics in Home Assistant's recorder."""

import asyncio
from datetime import UTC, datetime, timedelta
import logging
from typing import Literal

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    StatisticsRow,
    async_add_external_statistics,
    get_last_statistics,
    get_metadata,
    list_statistic_ids,
    statistics_during_period,
)
from homeassistant.components.recorder.tasks import SynchronizeTask
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from ..api.models import Quantity
from ..const import DOMAIN, MAX_HISTORY_DAYS
from ..ids import statistic_prefix
from ..quantities import statistic_unit
from .rows import EPSILON, HOUR, Anchor, StoredRow

_LOGGER = logging.getLogger(__name__)


async def async_last_anchor(hass: HomeAssistant, key: str) -> Anchor | None:
    """Where a statistic's stored hours end; None with none stored."""
    last = await get_instance(hass).async_add_executor_job(
        get_last_statistics, hass, 1, key, True, {"state", "sum"}
    )
    rows = last.get(key)
    if not rows:
        return None
    return Anchor(
        dt_util.utc_from_timestamp(rows[0]["start"]) + HOUR,
        float(rows[0]["state"] or 0),
        float(rows[0]["sum"] or 0),
    )


async def async_rows_after(
    hass: HomeAssistant, key: str, start: datetime
) -> list[StoredRow]:
    """The stored hours from start on: (start, state, sum)."""
    return (await async_rows_after_each(hass, {key}, start))[key]


async def async_rows_after_each(
    hass: HomeAssistant, keys: set[str], start: datetime
) -> dict[str, list[StoredRow]]:
    """Each statistic's stored hours from start on, in one query."""
    found = await _async_hours(hass, keys, start, {"state", "sum"})
    return {
        key: [
            (
                dt_util.utc_from_timestamp(row["start"]),
                float(row["state"] or 0),
                float(row["sum"] or 0),
            )
            for row in found.get(key, [])
        ]
        for key in keys
    }


def write(
    hass: HomeAssistant,
    key: str,
    name: str,
    unit: tuple[str, str | None],
    rows: list[StatisticData],
) -> None:
    """Queue hourly rows of a statistic, in a unit and its class, to be written.

    Consumption comes in kWh or m³ (`quantities.statistic_unit`), costs in
    Home Assistant's currency, which has no unit class.
    """
    unit_of_measurement, unit_class = unit
    metadata = StatisticMetaData(
        mean_type=StatisticMeanType.NONE,
        has_sum=True,
        name=name,
        source=DOMAIN,
        statistic_id=key,
        unit_class=unit_class,
        unit_of_measurement=unit_of_measurement,
    )
    async_add_external_statistics(hass, metadata, rows)


def move_sums(
    hass: HomeAssistant, key: str, start: datetime, shift: float, quantity: Quantity
) -> None:
    """Queue moving the sums of a statistic's hours from start on by `shift`."""
    get_instance(hass).async_adjust_statistics(
        key, start, shift, statistic_unit(quantity)[0]
    )


async def async_written(hass: HomeAssistant) -> None:
    """Wait until what was queued is in the database: what comes next reads it.

    Always behind what was queued: the recorder's own `async_block_till_done`
    returns at once while its queue is empty, also while it still writes
    the rows it took from it last.
    """
    done: asyncio.Future[None] = hass.loop.create_future()
    get_instance(hass).queue_task(SynchronizeTask(done))
    await done


async def async_mend_negative_sums(hass: HomeAssistant, provider: str) -> None:
    """Lift statistics whose earliest hours an earlier version stored below zero.

    Extending the history used to lead the earlier hours' sums up to the
    first stored hour, below zero, and Home Assistant books the earliest
    hour's change against zero: the energy dashboard showed negative
    consumption. Moving every row up until the earliest sum is zero mends
    each change but that hour's, whose consumption is not known (then 0).
    """
    recorder = get_instance(hass)
    prefix = statistic_prefix(provider)
    found = await recorder.async_add_executor_job(list_statistic_ids, hass, None, "sum")
    since = dt_util.utcnow() - timedelta(days=MAX_HISTORY_DAYS + 31)
    mended = 0
    for statistic in found:
        key = statistic["statistic_id"]
        if not key.startswith(prefix):
            continue
        rows = await _async_hours(hass, {key}, since, {"sum"})
        first = rows.get(key, [])[:1]
        if first and (lowest := float(first[0]["sum"] or 0)) < -EPSILON:
            recorder.async_adjust_statistics(
                key,
                dt_util.utc_from_timestamp(first[0]["start"]),
                -lowest,
                statistic["statistics_unit_of_measurement"],
            )
            mended += 1
    if mended:
        await recorder.async_block_till_done()
        _LOGGER.warning(
            "Mended %s statistics whose earliest hours were stored below zero "
            "when their history was extended: the energy dashboard showed "
            "negative consumption for them",
            mended,
        )


async def async_statistic_ids(hass: HomeAssistant, provider: str) -> list[str]:
    """The ids of every statistic of ours of a provider's meters."""
    found = await get_instance(hass).async_add_executor_job(list_statistic_ids, hass)
    prefix = statistic_prefix(provider)
    return [
        row["statistic_id"] for row in found if row["statistic_id"].startswith(prefix)
    ]


async def async_move(hass: HomeAssistant, old: str, new: str) -> None:
    """Move a statistic's hours to a new id, with its name and unit.

    The recorder renames only its own statistics, not external ones like
    ours: the hours are written under the new id, then the old goes.
    """
    recorder = get_instance(hass)
    metadata = await recorder.async_add_executor_job(
        lambda: get_metadata(hass, statistic_ids={old})
    )
    if old not in metadata:
        return
    meta = metadata[old][1]
    stored = await async_rows_after(hass, old, datetime.fromtimestamp(0, UTC))
    rows = [StatisticData(start=at, state=v, sum=total) for at, v, total in stored]
    async_add_external_statistics(
        hass,
        StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=meta["name"],
            source=DOMAIN,
            statistic_id=new,
            unit_class=meta["unit_class"],
            unit_of_measurement=meta["unit_of_measurement"],
        ),
        rows,
    )
    recorder.async_clear_statistics([old])


async def async_changes_since(
    hass: HomeAssistant, keys: set[str], start: datetime
) -> dict[str, float]:
    """What each statistic's stored hours from start on add up to (their changes)."""
    found = await _async_hours(hass, keys, start, {"change"})
    return {
        key: sum(float(row.get("change") or 0) for row in found.get(key, []))
        for key in keys
    }


async def _async_hours(
    hass: HomeAssistant,
    keys: set[str],
    start: datetime,
    types: set[Literal["change", "state", "sum"]],
) -> dict[str, list[StatisticsRow]]:
    """Each statistic's hourly rows from start on, with these fields, in one query."""
    return await get_instance(hass).async_add_executor_job(
        statistics_during_period, hass, start, None, keys, "hour", None, types
    )
