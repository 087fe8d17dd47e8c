"""Each water meter's recent hours, as the statistics write them, judged for leaks.

The importer tells every row it writes (`MeterStatistics.async_add_rows_listener`),
so the hours are judged when they arrive, late ones and corrections too; at
setup the last days are read back from the recorder, so that a restart keeps
the nights it saw.
"""

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from homeassistant.components.recorder.models import StatisticData
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.util import dt as dt_util

from ..api.models import Medium, Meter, Quantity
from ..ids import statistic_id
from ..leaks import LeakSettings, Verdict, consumption, judge
from . import recorder


class LeakWatch:
    """The recent hourly sums of one entry's water meters, and their verdicts."""

    def __init__(
        self, hass: HomeAssistant, provider: str, settings: LeakSettings
    ) -> None:
        """Nothing is read before `async_load`."""
        self.hass = hass
        self.provider = provider
        self.settings = settings
        self._keep = timedelta(days=settings.days_needed)
        # Per meter, the volume statistic's sum (m³) at each hour's start.
        self._sums: dict[str, dict[datetime, float]] = {}
        self._verdicts: dict[str, Verdict] = {}
        self._listeners: dict[str, list[Callable[[], None]]] = {}

    async def async_load(self, meters: Iterable[Meter]) -> None:
        """Read the water meters' last days back from the recorder, in one query."""
        # Hours an earlier setup queued (before a reload) must be readable.
        await recorder.async_written(self.hass)
        keys = {
            statistic_id(self.provider, meter.id, Quantity.VOLUME): meter.id
            for meter in meters
            if meter.medium is Medium.WATER
        }
        if not keys:
            return
        since = dt_util.utcnow() - self._keep
        found = await recorder.async_rows_after_each(self.hass, set(keys), since)
        for key, rows in found.items():
            self._sums[keys[key]] = {start: total for start, _, total in rows}
            self._judge(keys[key])

    def verdict(self, meter_id: str) -> Verdict:
        """A meter's verdict; unknown before any hour of it is known."""
        return self._verdicts.get(meter_id, Verdict(None))

    @callback
    def async_add_listener(
        self, meter_id: str, listener: Callable[[], None]
    ) -> CALLBACK_TYPE:
        """Call a listener whenever a meter's verdict may have changed."""
        self._listeners.setdefault(meter_id, []).append(listener)
        return lambda: self._listeners[meter_id].remove(listener)

    @callback
    def async_take_rows(
        self, meter: Meter, quantity: Quantity, rows: Sequence[StatisticData]
    ) -> None:
        """Take a register's rows as written (a statistics rows listener)."""
        if meter.medium is not Medium.WATER or quantity is not Quantity.VOLUME:
            return
        sums = self._sums.setdefault(meter.id, {})
        for row in rows:
            sums[dt_util.as_utc(row["start"])] = float(row.get("sum") or 0.0)
        oldest = max(sums, default=dt_util.utcnow()) - self._keep
        for start in [start for start in sums if start < oldest]:
            del sums[start]
        self._judge(meter.id)
        for listener in list(self._listeners.get(meter.id, ())):
            listener()

    def _judge(self, meter_id: str) -> None:
        hourly = consumption(self._sums.get(meter_id, {}))
        zone = dt_util.get_default_time_zone()
        self._verdicts[meter_id] = judge(hourly, self.settings, zone)
