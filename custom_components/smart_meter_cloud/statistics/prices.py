"""The price of each hour from a price entity, as the recorder kept it.

A tariff that changes within the hour is taken at its hourly mean where the
entity has long-term statistics; otherwise at the state in force when the
hour began. Never the price at the moment a late reading arrives. Not wired
up yet.
"""

from bisect import bisect_right
from datetime import datetime, timedelta
import math
from typing import Final

from homeassistant.components.recorder.history import get_significant_states
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util

from .costs import PriceAt

SETTLE: Final = timedelta(seconds=1)


async def async_entity_prices(
    hass: HomeAssistant, entity_id: str, start: datetime, end: datetime
) -> PriceAt:
    """The price of every hour from start to end, from the entity's history."""
    recorder = get_instance(hass)
    means = await recorder.async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        end,
        {entity_id},
        "hour",
        None,
        {"mean"},
    )
    hourly = {
        dt_util.utc_from_timestamp(row["start"]): row["mean"]
        for row in means.get(entity_id, [])
        if row.get("mean") is not None
    }
    found = await recorder.async_add_executor_job(
        lambda: get_significant_states(
            hass,
            # A tariff changes on the hour: the state set at `start` itself
            # is in force then, and the recorder's history starts after it.
            start - SETTLE,
            end,
            [entity_id],
            significant_changes_only=False,
            no_attributes=True,
        )
    )
    changes = [
        (state.last_changed, value)
        for state in found.get(entity_id, [])
        if isinstance(state, State) and (value := _number(state.state)) is not None
    ]
    times = [moment for moment, _ in changes]

    def price_at(hour: datetime) -> float | None:
        if (mean := hourly.get(hour)) is not None:
            return float(mean)
        index = bisect_right(times, hour)
        return changes[index - 1][1] if index else None

    return price_at


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
