"""Hourly long-term statistics of every total register, right by the hour.

Utility data arrives late and a sensor's state only tells the total now, so
each total register also becomes an external statistic whose rows carry the
consumption of the hour it happened in. A row that starts at hour H holds the
meter total at H + 1 h as `state` and the consumption since the first
imported hour as `sum`.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
import logging
import math
import re
from typing import TYPE_CHECKING, Final

from homeassistant.components.recorder.models import (
    StatisticData,
    StatisticMeanType,
    StatisticMetaData,
)
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    get_last_statistics,
    list_statistic_ids,
    statistics_during_period,
)
from homeassistant.const import Platform, UnitOfEnergy, UnitOfVolume
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.recorder import get_instance
from homeassistant.util import dt as dt_util
from homeassistant.util.hass_dict import HassKey
from homeassistant.util.unit_conversion import EnergyConverter, VolumeConverter

from .api.errors import SmartMeterCloudError
from .api.models import Medium, Meter, Quantity, Reading, max_per_hour
from .const import CONF_HISTORY_START, DOMAIN, MAX_HISTORY_DAYS
from .coordinator import entity_unique_id

if TYPE_CHECKING:
    from .coordinator import SmartMeterCoordinator

_LOGGER = logging.getLogger(__name__)

HOUR: Final = timedelta(hours=1)
# The registers the energy dashboard uses; tariff registers are left out.
STATISTIC_QUANTITIES: Final = frozenset(
    {
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.VOLUME,
        Quantity.HEAT_ENERGY,
        Quantity.COOLING_ENERGY,
    }
)
# One request covers this much history: 720 hourly values, well within limits.
CHUNK: Final = timedelta(days=30)
# A cloud's history may end before the hour it should have: its `to` may be
# exclusive, or the newest hour published late, or never. A meter's history
# is then asked for again an hour later at the earliest, and twice as late
# each time nothing new came, up to this; a poll otherwise costs the latest
# reading alone.
MAX_HISTORY_WAIT: Final = timedelta(hours=8)
DEFAULT_BACKFILL: Final = timedelta(days=30)
# A total this much below the last one (a fraction of it) is two sources'
# rounding, never a meter reset: it waits until the total passes the last.
JITTER: Final = 0.01
# Stored values come back as floats of the database: compare with a margin.
EPSILON: Final = 1e-9
DATA_ANCHORS: HassKey[dict[str, Anchor | None]] = HassKey(f"{DOMAIN}_anchors")


@dataclass(frozen=True, slots=True)
class Anchor:
    """The end of the last imported hour: its total, and the sum up to it."""

    time: datetime
    total: float
    sum: float


@dataclass(frozen=True, slots=True)
class Lag:
    """A meter whose history ended before its newest hour, and until when to wait."""

    reached: datetime | None
    wait: timedelta
    until: datetime


@lru_cache(maxsize=1 << 16)
def statistic_id(provider: str, meter_id: str, quantity: Quantity) -> str:
    """`smart_meter_cloud:<provider>_<meter>_<quantity>`, as recorder ids must be."""
    meter = re.sub(r"[^a-z0-9_]", "_", meter_id.lower())
    return f"{DOMAIN}:{provider}_{meter}_{quantity}"


def floor_hour(moment: datetime) -> datetime:
    """The whole hour at or before a moment."""
    return moment.replace(minute=0, second=0, microsecond=0)


def hourly_rows(
    anchor: Anchor | None,
    points: Mapping[datetime, float],
    most_per_hour: float = math.inf,
) -> tuple[list[StatisticData], Anchor | None]:
    """Turn totals at whole hours into hourly rows, continuing from `anchor`.

    Consumption between two totals more than an hour apart is spread evenly
    over the hours between them. A total of 0 or below the last one is a
    glitch if a later total comes back up, and so is a dip of less than
    `JITTER` of the total; if it stays lower the meter was reset or
    replaced, and the sum continues from the new base. A rise of
    more than `most_per_hour` an hour is a glitch if a later total comes
    back below it, and a new base if it stays. A drop or jump not yet
    confirmed by a later total waits for the next import.
    """
    ordered = sorted((t, v) for t, v in points.items() if t == floor_hour(t))
    rows: list[StatisticData] = []
    for index, (time, total) in enumerate(ordered):
        if anchor is None:
            # Start at the first real total; a register that is 0 throughout
            # (no export, say) starts at its last 0.
            if total > 0 or not any(v for _, v in ordered[index + 1 :]):
                anchor = Anchor(time, total, 0.0)
            continue
        if time <= anchor.time:
            continue
        hours = round((time - anchor.time) / HOUR)
        later = [value for _, value in ordered[index + 1 :]]
        if total < anchor.total:
            if (
                total == 0
                or anchor.total - total <= JITTER * anchor.total
                or any(value >= anchor.total for value in later)
            ):
                continue  # a glitch or rounding: the total comes back
            if not later:
                break  # not yet known whether it stays lower
            _LOGGER.info(
                "Meter total dropped from %s to %s and stayed: continuing the "
                "sum from the new base (meter reset or replaced)",
                anchor.total,
                total,
            )
            used = 0.0
        elif total - anchor.total > most_per_hour * hours:
            if any(value < total for value in later):
                continue  # a spike: the total comes back below it
            if not later:
                break
            _LOGGER.info(
                "Meter total jumped from %s to %s, more than a meter can "
                "measure, and stayed: continuing the sum from the new base",
                anchor.total,
                total,
            )
            used = 0.0
        else:
            used = total - anchor.total
        for step in range(1, hours + 1):
            share = used * step / hours
            end_total = total if step == hours else anchor.total + share
            rows.append(
                StatisticData(
                    start=anchor.time + (step - 1) * HOUR,
                    state=end_total,
                    sum=anchor.sum + share,
                )
            )
        anchor = Anchor(time, total, anchor.sum + used)
    return rows, anchor


def _unit(quantity: Quantity) -> tuple[str, str | None]:
    if quantity is Quantity.VOLUME:
        return UnitOfVolume.CUBIC_METERS, VolumeConverter.UNIT_CLASS
    return UnitOfEnergy.KILO_WATT_HOUR, EnergyConverter.UNIT_CLASS


async def async_mend_negative_sums(hass: HomeAssistant, provider: str) -> None:
    """Lift statistics whose earliest hours an earlier version stored below zero.

    Extending the history used to lead the earlier hours' sums up to the
    first stored hour, below zero, and Home Assistant books the earliest
    hour's change against zero: the energy dashboard showed negative
    consumption. Moving every row up until the earliest sum is zero mends
    each change but that hour's, whose consumption is not known (then 0).
    """
    recorder = get_instance(hass)
    prefix = f"{DOMAIN}:{provider}_"
    found = await recorder.async_add_executor_job(list_statistic_ids, hass, None, "sum")
    since = dt_util.utcnow() - timedelta(days=MAX_HISTORY_DAYS + 31)
    mended = 0
    for statistic in found:
        key = statistic["statistic_id"]
        if not key.startswith(prefix):
            continue
        rows = await recorder.async_add_executor_job(
            statistics_during_period, hass, since, None, {key}, "hour", None, {"sum"}
        )
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


class MeterStatistics:
    """Keeps the hourly statistics of one config entry's meters current."""

    def __init__(
        self,
        hass: HomeAssistant,
        coordinator: SmartMeterCoordinator,
        backfill: timedelta = DEFAULT_BACKFILL,
    ) -> None:
        """Nothing is read or written before the first update."""
        self.hass = hass
        self.coordinator = coordinator
        self.backfill = backfill
        # Outlives a reload: imports just queued may not be readable yet.
        self._anchors: dict[str, Anchor | None] = hass.data.setdefault(DATA_ANCHORS, {})
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._again = False
        self._lags: dict[str, Lag] = {}
        # The option asks for more history than was imported: fetch it first.
        entry = coordinator.config_entry
        self._since = floor_hour(dt_util.utcnow()) - backfill
        reached = dt_util.parse_datetime(entry.data.get(CONF_HISTORY_START, ""))
        self._extend_to = reached if reached and self._since < reached else None
        if reached is None:
            self._record_history_start(self._since)

    @callback
    def async_schedule(self) -> None:
        """Import in the background after an update; never two runs at once."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = self.coordinator.config_entry.async_create_background_task(
            self.hass, self._async_run(), "smart_meter_cloud statistics"
        )

    async def _async_run(self) -> None:
        while True:
            self._again = False
            if self._extend_to is not None and self.coordinator.last_update_success:
                await self._async_extend(self._extend_to)
            await self.async_update(self.coordinator.take_pushed())
            if not self._again:
                return

    async def _async_extend(self, reached: datetime) -> None:
        """Import the history before what was imported, back to the option's start.

        Newest chunk first, each joined to the hours after it and recorded, so
        that a restart carries on from where it stopped.
        """
        while reached > self._since:
            # One request per meter: the range and the hour on either side.
            start = max(self._since, reached + 2 * HOUR - CHUNK)
            try:
                for meter in list(self.coordinator.meters.values()):
                    await self.async_import(meter, start, reached + HOUR)
            except SmartMeterCloudError as err:
                _LOGGER.debug("Earlier history not available now: %s", err)
                return
            reached = start
            self._record_history_start(reached)
        self._extend_to = None

    def _earliest(self) -> datetime:
        """The first hour a reading may write or correct: the imported range's."""
        entry = self.coordinator.config_entry
        reached = dt_util.parse_datetime(entry.data.get(CONF_HISTORY_START, ""))
        return min(self._since, reached) if reached else self._since

    def _record_history_start(self, start: datetime) -> None:
        entry = self.coordinator.config_entry
        self.hass.config_entries.async_update_entry(
            entry, data={**entry.data, CONF_HISTORY_START: start.isoformat()}
        )

    async def async_update(self, pushed: Sequence[tuple[str, Reading]] = ()) -> None:
        """Import what is new for every meter: pushed hours, else history."""
        async with self._lock:
            by_meter: dict[str, list[Reading]] = {}
            earliest = self._earliest()
            for meter_id, reading in pushed:
                if reading.time < earliest:
                    _LOGGER.debug(
                        "Ignoring a reading of meter %s stamped %s, before the "
                        "imported history",
                        meter_id,
                        reading.time,
                    )
                    continue
                by_meter.setdefault(meter_id, []).append(reading)
            data = self.coordinator.data
            for meter in list(self.coordinator.meters.values()):
                latest = data.readings.get(meter.id) if data else None
                if latest is None:
                    continue
                readings = by_meter.get(meter.id, [])
                if not self._nothing_to_write(meter, latest, readings):
                    await self._async_update_meter(meter, latest, readings)

    def _nothing_to_write(
        self, meter: Meter, latest: Reading, pushed: list[Reading]
    ) -> bool:
        """Whether an update of a meter would write nothing, from memory alone.

        So when every register's anchor is in memory, none lags behind the
        latest whole hour, and no reading falls on a whole hour or at or
        before an anchor: what a poll within the hour brings. Most meters on
        most polls then cost a few lookups instead of a full update.
        """
        times = []
        for quantity in latest.values.keys() & STATISTIC_QUANTITIES:
            if _counts(meter, quantity):
                key = statistic_id(self.coordinator.provider, meter.id, quantity)
                if (anchor := self._anchors.get(key)) is None:
                    return False
                times.append(anchor.time)
        if not times:
            return True  # no register the energy dashboard can use
        if min(times) < floor_hour(latest.time) and not self._waiting(meter.id):
            return False
        last = max(times)
        return all(
            r.time > last and r.time != floor_hour(r.time) for r in (*pushed, latest)
        )

    async def async_import(self, meter: Meter, start: datetime, end: datetime) -> int:
        """Import a range again from the cloud's history; return the hours written.

        The range joins the stored hours around it: after a stored hour it
        continues that hour's sum; with nothing stored before it (history
        reaching further back) its sums start from zero. The stored hours
        after it keep their consumption: the recorder moves their sums in
        one step, so no hour's change ever drops below zero.
        """
        async with self._lock:
            readings = await self._async_history(meter, start - HOUR, end)
            written = 0
            recorder = get_instance(self.hass)
            for quantity in _totals(meter, readings):
                key = statistic_id(self.coordinator.provider, meter.id, quantity)
                stored = await self._async_rows_after(key, start - HOUR)
                base = _anchor_at(start, stored)
                computed, _ = hourly_rows(
                    base, _points(readings, quantity), max_per_hour(quantity)
                )
                rows = [row for row in computed if start <= row["start"] < end]
                if base is None and rows:
                    # The hour before the range is not written: start at zero.
                    before = [row["sum"] for row in computed if row["start"] < start]
                    if before:
                        rows = [_moved(row, -before[-1]) for row in rows]
                later = [row for row in stored if row[0] >= end]
                shift = _shift(rows[-1], later[0]) if rows and later else 0.0
                rows = _changed(rows, stored)
                if rows:
                    self._write(meter, quantity, rows)
                if abs(shift) > EPSILON:
                    recorder.async_adjust_statistics(
                        key, end, shift, _unit(quantity)[0]
                    )
                self._anchors.pop(key, None)
                written = max(written, len(rows))
            # What comes next reads these hours back.
            await recorder.async_block_till_done()
            return written

    async def _async_update_meter(
        self, meter: Meter, latest: Reading, pushed: list[Reading]
    ) -> None:
        quantities = [q for q in latest.values if _counts(meter, q)]
        anchors = {
            q: await self._async_anchor(
                statistic_id(self.coordinator.provider, meter.id, q)
            )
            for q in quantities
        }
        newest = floor_hour(latest.time)
        starts = [a.time for a in anchors.values() if a is not None]
        start = min(starts) if len(starts) == len(anchors) else newest - self.backfill
        # Pushed whole hours from the anchor on need no request.
        # The hour already stored, received again unchanged (a poll, or a push
        # repeating it), is no correction: skip it before reading any rows.
        readings = sorted(
            (r for r in pushed if not _already_stored(r, anchors)),
            key=lambda reading: reading.time,
        )
        corrections = [r.time for r in readings if starts and r.time <= max(starts)]
        if corrections:
            await self._async_correct(meter, readings, min(corrections))
            for quantity in quantities:
                key = statistic_id(self.coordinator.provider, meter.id, quantity)
                anchors[quantity] = self._anchors.get(key, anchors[quantity])
            readings = [r for r in readings if r.time > max(starts)]
        have = {r.time for r in readings}
        needed = start + HOUR
        if (
            needed <= newest
            and not all(t in have for t in _hours(needed, newest))
            and not self._waiting(meter.id)
        ):
            # Each chunk is written as it arrives: a backfill cut short by a
            # restart or an outage resumes from the last hour it stored.
            # Up to the reading's moment: a cloud whose `to` is exclusive
            # still answers the newest whole hour.
            try:
                async for chunk in self._async_chunks(meter, start, latest.time):
                    self._write_rows(meter, anchors, chunk)
            except SmartMeterCloudError as err:
                _LOGGER.debug(
                    "History of meter %s not available now: %s", meter.id, err
                )
                self._note_lag(meter, None, newest)
                return
            self._note_lag(meter, min(_times(anchors), default=None), newest)
        # The latest as the cloud sent it is among the received readings; the
        # coordinator's copy has glitches replaced by the last good totals,
        # which would book nothing for this hour and double the next.
        if latest.time == newest and all(r.time != newest for r in readings):
            readings.append(latest)
        self._write_rows(meter, anchors, readings)

    def _waiting(self, meter_id: str) -> bool:
        """Whether a meter's history lags and is not to be asked for yet."""
        lag = self._lags.get(meter_id)
        return lag is not None and dt_util.utcnow() < lag.until

    def _note_lag(
        self, meter: Meter, reached: datetime | None, newest: datetime
    ) -> None:
        """After asking for history: wait longer each time it brought nothing."""
        if reached is not None and reached >= newest:
            self._lags.pop(meter.id, None)
            return
        lag = self._lags.get(meter.id)
        wait = (
            min(lag.wait * 2, MAX_HISTORY_WAIT)
            if lag is not None and (reached is None or reached == lag.reached)
            else HOUR
        )
        if lag is None or wait != lag.wait:
            _LOGGER.debug(
                "History of meter %s ends at %s, before %s: asking again in %s",
                meter.id,
                reached,
                newest,
                wait,
            )
        self._lags[meter.id] = Lag(reached, wait, dt_util.utcnow() + wait)

    def _write_rows(
        self,
        meter: Meter,
        anchors: dict[Quantity, Anchor | None],
        readings: list[Reading],
    ) -> None:
        """Write the hours after each register's anchor; move the anchors on."""
        for quantity, anchor in anchors.items():
            key = statistic_id(self.coordinator.provider, meter.id, quantity)
            rows, anchors[quantity] = hourly_rows(
                anchor, _points(readings, quantity), max_per_hour(quantity)
            )
            if rows:
                self._write(meter, quantity, rows)
            self._anchors[key] = anchors[quantity]

    async def _async_correct(
        self, meter: Meter, readings: list[Reading], since: datetime
    ) -> None:
        """A pushed hour we already have: write it and every later hour again."""
        # The hours it corrects may still be on their way to the database.
        await get_instance(self.hass).async_block_till_done()
        for quantity in _totals(meter, readings):
            key = statistic_id(self.coordinator.provider, meter.id, quantity)
            # The row ending at `since` changes: start from the one before it.
            stored = await self._async_rows_after(key, since - 2 * HOUR)
            if not stored:
                continue
            base = _anchor_at(since - HOUR, stored)
            totals = {start + HOUR: state for start, state, _ in stored}
            totals.update(_points(readings, quantity))
            rows, anchor = hourly_rows(base, totals, max_per_hour(quantity))
            self._write(meter, quantity, rows)
            self._anchors[key] = anchor

    async def _async_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[Reading]:
        return [
            r async for chunk in self._async_chunks(meter, start, end) for r in chunk
        ]

    async def _async_chunks(
        self, meter: Meter, start: datetime, end: datetime
    ) -> AsyncIterator[list[Reading]]:
        """The history from start to end, one request per chunk the API accepts."""
        chunk_start = start
        while chunk_start < end:
            chunk_end = min(chunk_start + CHUNK, end)
            if end - chunk_end < HOUR:
                chunk_end = end  # no request for a part of an hour
            yield await self.coordinator.client.history(
                meter.id, chunk_start, chunk_end
            )
            if end - start > CHUNK:
                _LOGGER.info(
                    "Imported history of meter %s up to %s", meter.id, chunk_end
                )
            chunk_start = chunk_end

    async def _async_anchor(self, key: str) -> Anchor | None:
        if key not in self._anchors:
            last = await get_instance(self.hass).async_add_executor_job(
                get_last_statistics, self.hass, 1, key, True, {"state", "sum"}
            )
            rows = last.get(key)
            self._anchors[key] = (
                Anchor(
                    dt_util.utc_from_timestamp(rows[0]["start"]) + HOUR,
                    float(rows[0]["state"] or 0),
                    float(rows[0]["sum"] or 0),
                )
                if rows
                else None
            )
        return self._anchors[key]

    async def _async_rows_after(
        self, key: str, start: datetime
    ) -> list[tuple[datetime, float, float]]:
        """The stored hours from start on: (start, state, sum)."""
        found = await get_instance(self.hass).async_add_executor_job(
            statistics_during_period,
            self.hass,
            start,
            None,
            {key},
            "hour",
            None,
            {"state", "sum"},
        )
        return [
            (
                dt_util.utc_from_timestamp(row["start"]),
                float(row["state"] or 0),
                float(row["sum"] or 0),
            )
            for row in found.get(key, [])
        ]

    def _write(
        self, meter: Meter, quantity: Quantity, rows: list[StatisticData]
    ) -> None:
        unit, unit_class = _unit(quantity)
        metadata = StatisticMetaData(
            mean_type=StatisticMeanType.NONE,
            has_sum=True,
            name=self._name(meter, quantity),
            source=DOMAIN,
            statistic_id=statistic_id(self.coordinator.provider, meter.id, quantity),
            unit_class=unit_class,
            unit_of_measurement=unit,
        )
        async_add_external_statistics(self.hass, metadata, rows)

    def _name(self, meter: Meter, quantity: Quantity) -> str:
        """Named as the register's sensor, to find it in the energy settings."""
        entities = er.async_get(self.hass)
        unique_id = entity_unique_id(self.coordinator.provider, meter.id, quantity)
        entity_id = entities.async_get_entity_id(Platform.SENSOR, DOMAIN, unique_id)
        entity = entities.async_get(entity_id) if entity_id else None
        device = (
            dr.async_get(self.hass).async_get(entity.device_id)
            if entity and entity.device_id
            else None
        )
        if entity and device and (name := entity.name or entity.original_name):
            return f"{device.name_by_user or device.name} {name}"
        # Before the sensor exists (its platform sets up after the first import).
        tail = (meter.serial or meter.id)[-4:]
        return f"{meter.medium.capitalize()} meter {tail} {quantity.replace('_', ' ')}"


def _anchor_at(
    boundary: datetime, stored: Sequence[tuple[datetime, float, float]]
) -> Anchor | None:
    """The stored total and sum at a whole hour, if the first row ends there."""
    return next(
        (
            Anchor(boundary, state, total)
            for start, state, total in stored[:1]
            if start == boundary - HOUR
        ),
        None,
    )


def _shift(last: StatisticData, after: tuple[datetime, float, float]) -> float:
    """How far the sums of the stored hours after a written range must move.

    The first of them used what the total rose by since the range's last
    hour; a drop there is a reset, counted as nothing.
    """
    _, state, total = after
    return last["sum"] + max(state - last["state"], 0.0) - total


def _moved(row: StatisticData, shift: float) -> StatisticData:
    return StatisticData(start=row["start"], state=row["state"], sum=row["sum"] + shift)


def _changed(
    rows: list[StatisticData], stored: Iterable[tuple[datetime, float, float]]
) -> list[StatisticData]:
    """The rows that differ from what is stored: writing is the slow part."""
    old = {start: (state, total) for start, state, total in stored}
    return [
        row
        for row in rows
        if (was := old.get(row["start"])) is None
        or abs(was[0] - row["state"]) > EPSILON
        or abs(was[1] - row["sum"]) > EPSILON
    ]


def _points(readings: Iterable[Reading], quantity: Quantity) -> dict[datetime, float]:
    return {
        r.time: r.values[quantity]
        for r in readings
        if quantity in r.values and r.time == floor_hour(r.time)
    }


def _already_stored(
    reading: Reading, anchors: Mapping[Quantity, Anchor | None]
) -> bool:
    """Whether a reading is exactly the last imported hour's totals."""
    return all(
        (anchor := anchors[q]) is not None
        and anchor.time == reading.time
        and anchor.total == reading.values[q]
        for q in anchors
        if q in reading.values
    )


def _counts(meter: Meter, quantity: Quantity) -> bool:
    """Whether a register is consumption the energy dashboard can use."""
    if quantity is Quantity.VOLUME:
        return meter.medium in (Medium.GAS, Medium.WATER)
    return quantity in STATISTIC_QUANTITIES


def _totals(meter: Meter, readings: Iterable[Reading]) -> set[Quantity]:
    return {q for r in readings for q in r.values if _counts(meter, q)}


def _times(anchors: Mapping[Quantity, Anchor | None]) -> Iterable[datetime]:
    """Where each register's hours end; none while one has no hour yet."""
    if all(anchor is not None for anchor in anchors.values()):
        yield from (anchor.time for anchor in anchors.values() if anchor)


def _hours(start: datetime, end: datetime) -> Iterable[datetime]:
    moment = start
    while moment <= end:
        yield moment
        moment += HOUR
