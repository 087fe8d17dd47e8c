"""Each hour's cost: that hour's consumption times the price valid in it.

Pure arithmetic over stored consumption rows (see `rows`) and a price per
hour; where the prices come from (a fixed price with its history, or a
price entity's recorded hours) is the caller's (`importer`).
"""

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from homeassistant.components.recorder.models import StatisticData

from .rows import StoredRow

# The price valid in the hour starting at a moment; None where there was none.
type PriceAt = Callable[[datetime], float | None]


@dataclass(frozen=True, slots=True)
class PriceHistory:
    """A fixed price as the options set it over time: each from its hour on.

    `changes` are (from, price) in time order; a price of None means no
    price from then on. A price set in the options applies from the hour it
    was set, never to the hours before.
    """

    changes: Sequence[tuple[datetime, float | None]] = field(default_factory=tuple)

    def price_at(self, hour: datetime) -> float | None:
        """The price of the hour starting at `hour`."""
        index = bisect_right([start for start, _ in self.changes], hour)
        return self.changes[index - 1][1] if index else None

    def since(self, hour: datetime, price: float | None) -> PriceHistory:
        """The history with `price` from `hour` on, whatever was set after it."""
        kept = [(start, value) for start, value in self.changes if start < hour]
        return PriceHistory((*kept, (hour, price)))

    def set(self, hour: datetime, price: float | None) -> PriceHistory:
        """The history with a new price from `hour` on; unchanged if it is the same."""
        if self.price_at(hour) == price:
            return self
        return self.since(hour, price)


def cost_rows(
    consumption: Sequence[StoredRow],
    sum_before: float,
    cost_before: float,
    price_at: PriceAt,
) -> list[StatisticData]:
    """Cost rows for consumption rows that follow one another by the hour.

    `sum_before` is the consumption sum at the start of the first row (0
    when it is the first hour stored), `cost_before` the cost sum there. An
    hour without a price costs nothing and gets no row: the cost sum goes
    on where a price applies again.
    """
    rows: list[StatisticData] = []
    last_sum, cost = sum_before, cost_before
    for start, _, total in consumption:
        used, last_sum = total - last_sum, total
        price = price_at(start)
        if price is None:
            continue
        hour_cost = used * price
        cost += hour_cost
        rows.append(StatisticData(start=start, state=hour_cost, sum=cost))
    return rows
