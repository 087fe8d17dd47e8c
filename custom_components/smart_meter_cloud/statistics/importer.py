"""Keeps each entry's hourly statistics current: backfill, extension, corrections.

Utility data arrives late and a sensor's state only tells the total now, so
each consumption register also becomes an external statistic whose rows
carry the consumption of the hour it happened in (see `rows`). This is the
scheduling around it: what to ask the cloud for, when, and what to write.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
import logging
from typing import Final

from homeassistant.components.recorder.models import StatisticData
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import Platform
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..api.errors import SmartMeterCloudError
from ..api.models import Meter, Quantity, Reading
from ..const import CONF_PRICES, DOMAIN, PRICE_ENTITY_SUFFIX
from ..coordinator import SmartMeterCoordinator
from ..ids import (
    cost_statistic_id,
    entity_unique_id,
    statistic_id,
    store_key,
)
from ..names import meter_device_name
from ..quantities import TARIFFS, is_consumption, most_per_hour, statistic_unit
from . import recorder
from .background import BackgroundJob
from .costs import PriceAt, PriceHistory, cost_rows
from .prices import async_entity_prices
from .rows import (
    EPSILON,
    HOUR,
    Anchor,
    already_stored,
    anchor_at,
    anchor_times,
    changed,
    floor_hour,
    hourly_rows,
    moved,
    points,
    sum_shift,
    whole_hours,
)

_LOGGER = logging.getLogger(__name__)

# One request covers this much history: 720 hourly values, well within limits.
CHUNK: Final = timedelta(days=30)
# A cloud's history may end before the hour it should have: its `to` may be
# exclusive, or the newest hour published late, or never. A meter's history
# is then asked for again an hour later at the earliest, and twice as late
# each time nothing new came, up to this; a poll otherwise costs the latest
# reading alone.
MAX_HISTORY_WAIT: Final = timedelta(hours=8)
DEFAULT_BACKFILL: Final = timedelta(days=30)

# Told every register's hourly rows as they are queued for the recorder,
# rewritten ones (corrections, moved sums) too.
type RowsListener = Callable[[Meter, Quantity, Sequence[StatisticData]], None]
# Told each range of a meter's history imported again (the action, or the
# history reaching further back), to import what else it keeps of that range.
type RangeListener = Callable[[Meter, datetime, datetime], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Lag:
    """A meter whose history ended before its newest hour, and until when to wait."""

    reached: datetime | None
    wait: timedelta
    until: datetime


def price_store(
    hass: HomeAssistant, entry: ConfigEntry
) -> Store[dict[str, list[tuple[str, float | None]]]]:
    """Where an entry keeps its fixed prices' history: each applies from its hour."""
    return Store(hass, 1, store_key(entry, "prices"))


def progress_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, str]]:
    """Where an entry keeps the earliest hour its history was imported from."""
    return Store(hass, 1, store_key(entry, "history"))


class MeterStatistics:
    """Keeps the hourly statistics of one config entry's meters current."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        coordinator: SmartMeterCoordinator,
        backfill: timedelta = DEFAULT_BACKFILL,
    ) -> None:
        """Nothing is read or written before `async_start`."""
        self.hass = hass
        self.entry = entry
        self.coordinator = coordinator
        self.provider = coordinator.provider
        self.backfill = backfill
        self._store = progress_store(hass, entry)
        self._anchors: dict[str, Anchor | None] = {}
        self._lock = asyncio.Lock()
        self.job = BackgroundJob(
            hass, entry, "smart_meter_cloud statistics", self._async_run
        )
        self._started = False
        # Each tariff's price entity (its id) or fixed price (True: see the
        # price history), and the fixed prices' history.
        self._prices: dict[str, str | bool] = {}
        self._price_history: dict[str, PriceHistory] = {}
        self._price_store = price_store(hass, entry)
        # Hours written whose cost is still to write: from which hour on.
        self._costs_due: dict[tuple[str, Quantity], tuple[Meter, datetime]] = {}
        # Readings received since the last run, pushed hours among them.
        self._received: list[tuple[str, Reading]] = []
        self._lags: dict[str, Lag] = {}
        self._since = floor_hour(dt_util.utcnow()) - backfill
        # The earliest hour imported, and the one to extend the history
        # from when the option asks for more than was imported.
        self.history_start: datetime | None = None
        self._extend_to: datetime | None = None
        self._rows_listeners: list[RowsListener] = []
        self._range_listeners: list[RangeListener] = []

    @callback
    def async_add_rows_listener(self, listener: RowsListener) -> CALLBACK_TYPE:
        """Hand the hourly rows written from now on to a listener."""
        self._rows_listeners.append(listener)
        return lambda: self._rows_listeners.remove(listener)

    @callback
    def async_add_range_listener(self, listener: RangeListener) -> CALLBACK_TYPE:
        """Have a listener import each range imported again, after the meter's."""
        self._range_listeners.append(listener)
        return lambda: self._range_listeners.remove(listener)

    async def async_import_range(
        self, meter: Meter, start: datetime, end: datetime
    ) -> None:
        """Import a range of a meter's history again, and what else is kept of it."""
        await self.async_import(meter, start, end)
        for listener in list(self._range_listeners):
            await listener(meter, start, end)

    async def async_load(self) -> None:
        """Read how far back the history was imported, and the prices' history."""
        await self._async_load_prices()
        await self._async_load_progress()

    async def _async_load_prices(self) -> None:
        """Note a fixed price changed in the options: it applies from this hour."""
        options = self.entry.options.get(CONF_PRICES) or {}
        stored = await self._price_store.async_load() or {}
        now = floor_hour(dt_util.utcnow())
        history = {
            tariff: PriceHistory(
                tuple(
                    (dt_util.parse_datetime(start) or now, price)
                    for start, price in changes
                )
            )
            for tariff, changes in stored.items()
        }
        loaded = dict(history)
        for tariff in set(TARIFFS.values()):
            fixed = options.get(tariff)
            history[tariff] = history.get(tariff, PriceHistory()).set(
                now, None if fixed is None else float(fixed)
            )
            if entity_id := options.get(f"{tariff}{PRICE_ENTITY_SUFFIX}"):
                self._prices[tariff] = str(entity_id)
            elif fixed is not None or any(
                p is not None for _, p in history[tariff].changes
            ):
                self._prices[tariff] = True
        self._price_history = history
        if {t: h for t, h in history.items() if h.changes} != loaded:
            await self._async_save_prices()

    async def _async_save_prices(self) -> None:
        await self._price_store.async_save(
            {
                tariff: [(start.isoformat(), price) for start, price in h.changes]
                for tariff, h in self._price_history.items()
                if h.changes
            }
        )

    async def _async_load_progress(self) -> None:
        """Read how far back the history was imported; record it the first time."""
        stored = await self._store.async_load() or {}
        reached = dt_util.parse_datetime(stored.get("start", ""))
        self._extend_to = reached if reached and self._since < reached else None
        self.history_start = reached
        if reached is None:
            await self._async_record_history_start(self._since)

    @callback
    def async_take_readings(self, readings: Sequence[tuple[str, Reading]]) -> None:
        """Take an update's readings (a coordinator's readings listener)."""
        self._received.extend(readings)
        self.async_schedule()

    @callback
    def async_start(self) -> None:
        """Start importing, the entry's sensors set up: statistics take their names."""
        self._started = True
        self.async_schedule()

    @callback
    def async_schedule(self) -> None:
        """Import in the background after an update; never two runs at once."""
        if not self._started:
            return
        self.job.async_schedule()

    async def _async_run(self, first: bool) -> None:
        if first:
            # Hours an earlier setup of the entry queued (before a reload)
            # must be readable before the first anchor is read.
            await recorder.async_written(self.hass)
        if self._extend_to is not None and self.coordinator.last_update_success:
            await self._async_extend(self._extend_to)
        received, self._received = self._received, []
        await self.async_update(received)
        async with self._lock:
            await self._async_write_costs()

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
                    await self.async_import_range(meter, start, reached + HOUR)
            except SmartMeterCloudError as err:
                _LOGGER.debug("Earlier history not available now: %s", err)
                return
            reached = start
            await self._async_record_history_start(reached)
        self._extend_to = None

    def _earliest(self) -> datetime:
        """The first hour a reading may write or correct: the imported range's."""
        reached = self.history_start
        return min(self._since, reached) if reached else self._since

    async def _async_record_history_start(self, start: datetime) -> None:
        """Keep how far back the history reaches: a restart carries on from there."""
        self.history_start = start
        await self._store.async_save({"start": start.isoformat()})

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
        for quantity in latest.values:
            if is_consumption(quantity, meter.medium):
                key = statistic_id(self.provider, meter.id, quantity)
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
            for quantity in _totals(meter, readings):
                key = statistic_id(self.provider, meter.id, quantity)
                stored = await recorder.async_rows_after(self.hass, key, start - HOUR)
                base = anchor_at(start, stored)
                computed, _ = hourly_rows(
                    base, points(readings, quantity), most_per_hour(quantity)
                )
                rows = [row for row in computed if start <= row["start"] < end]
                if base is None and rows:
                    # The hour before the range is not written: start at zero.
                    before = [row["sum"] for row in computed if row["start"] < start]
                    if before:
                        rows = [moved(row, -before[-1]) for row in rows]
                later = [row for row in stored if row[0] >= end]
                shift = sum_shift(rows[-1], later[0]) if rows and later else 0.0
                rows = changed(rows, stored)
                if rows:
                    self._write(meter, quantity, rows)
                if abs(shift) > EPSILON:
                    recorder.move_sums(self.hass, key, end, shift, quantity)
                    self._tell(
                        meter,
                        quantity,
                        [
                            moved(StatisticData(start=s, state=v, sum=t), shift)
                            for s, v, t in later
                        ],
                    )
                self._anchors.pop(key, None)
                written = max(written, len(rows))
            await recorder.async_written(self.hass)
            await self._async_write_costs()
            return written

    async def _async_update_meter(
        self, meter: Meter, latest: Reading, pushed: list[Reading]
    ) -> None:
        quantities = [q for q in latest.values if is_consumption(q, meter.medium)]
        anchors = {
            q: await self._async_anchor(statistic_id(self.provider, meter.id, q))
            for q in quantities
        }
        newest = floor_hour(latest.time)
        starts = [a.time for a in anchors.values() if a is not None]
        start = min(starts) if len(starts) == len(anchors) else newest - self.backfill
        # Pushed whole hours from the anchor on need no request.
        # The hour already stored, received again unchanged (a poll, or a push
        # repeating it), is no correction: skip it before reading any rows.
        readings = sorted(
            (r for r in pushed if not already_stored(r, anchors)),
            key=lambda reading: reading.time,
        )
        corrections = [r.time for r in readings if starts and r.time <= max(starts)]
        if corrections:
            await self._async_correct(meter, readings, min(corrections))
            for quantity in quantities:
                key = statistic_id(self.provider, meter.id, quantity)
                anchors[quantity] = self._anchors.get(key, anchors[quantity])
            readings = [r for r in readings if r.time > max(starts)]
        have = {r.time for r in readings}
        needed = start + HOUR
        if (
            needed <= newest
            and not all(t in have for t in whole_hours(needed, newest))
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
            self._note_lag(meter, min(anchor_times(anchors), default=None), newest)
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
            key = statistic_id(self.provider, meter.id, quantity)
            rows, anchors[quantity] = hourly_rows(
                anchor, points(readings, quantity), most_per_hour(quantity)
            )
            if rows:
                self._write(meter, quantity, rows)
            self._anchors[key] = anchors[quantity]

    async def _async_correct(
        self, meter: Meter, readings: list[Reading], since: datetime
    ) -> None:
        """A pushed hour we already have: write it and every later hour again."""
        # The hours it corrects may still be on their way to the database.
        await recorder.async_written(self.hass)
        for quantity in _totals(meter, readings):
            key = statistic_id(self.provider, meter.id, quantity)
            # The row ending at `since` changes: start from the one before it.
            stored = await recorder.async_rows_after(self.hass, key, since - 2 * HOUR)
            if not stored:
                continue
            base = anchor_at(since - HOUR, stored)
            totals = {start + HOUR: state for start, state, _ in stored}
            totals.update(points(readings, quantity))
            rows, anchor = hourly_rows(base, totals, most_per_hour(quantity))
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
            yield await self.coordinator.client.history(meter, chunk_start, chunk_end)
            if end - start > CHUNK:
                _LOGGER.info(
                    "Imported history of meter %s up to %s", meter.id, chunk_end
                )
            chunk_start = chunk_end

    async def _async_anchor(self, key: str) -> Anchor | None:
        if key not in self._anchors:
            self._anchors[key] = await recorder.async_last_anchor(self.hass, key)
        return self._anchors[key]

    def _write(
        self, meter: Meter, quantity: Quantity, rows: list[StatisticData]
    ) -> None:
        key = statistic_id(self.provider, meter.id, quantity)
        name = self._name(meter, quantity)
        recorder.write(self.hass, key, name, statistic_unit(quantity), rows)
        self._tell(meter, quantity, rows)
        if rows and TARIFFS.get((quantity, meter.medium)) in self._prices:
            due = self._costs_due.get((meter.id, quantity))
            first = rows[0]["start"]
            self._costs_due[meter.id, quantity] = (
                meter,
                first if due is None else min(due[1], first),
            )

    def _tell(
        self, meter: Meter, quantity: Quantity, rows: Sequence[StatisticData]
    ) -> None:
        for listener in list(self._rows_listeners):
            listener(meter, quantity, rows)

    async def async_recompute_costs(self, start: datetime) -> None:
        """Cost the stored hours from `start` on again, fixed prices as set now.

        For a price set late: a fixed price then applies from `start`, and
        a price entity's recorded prices are read again.
        """
        async with self._lock:
            now = floor_hour(dt_util.utcnow())
            for tariff, history in self._price_history.items():
                # A tariff without a price now keeps its history as it is.
                if (price := history.price_at(now)) is not None:
                    self._price_history[tariff] = history.since(start, price)
            await self._async_save_prices()
            for meter in self.coordinator.meters.values():
                for quantity, medium in TARIFFS:
                    if (
                        medium is meter.medium
                        and TARIFFS[quantity, medium] in self._prices
                    ):
                        self._costs_due[meter.id, quantity] = (meter, start)
            await self._async_write_costs()

    async def _async_write_costs(self) -> None:
        """Cost every hour written since the last time, and those after it."""
        due, self._costs_due = self._costs_due, {}
        if not due:
            return
        await recorder.async_written(self.hass)
        for (_, quantity), (meter, since) in due.items():
            await self._async_cost(meter, quantity, since)

    async def _async_cost(
        self, meter: Meter, quantity: Quantity, since: datetime
    ) -> None:
        """Write the cost of the stored hours from `since` on, at their prices."""
        key = statistic_id(self.provider, meter.id, quantity)
        stored = await recorder.async_rows_after(self.hass, key, since - HOUR)
        if stored and stored[0][0] == since - HOUR:
            sum_before, stored = stored[0][2], stored[1:]
        else:
            sum_before = 0.0  # the earliest stored hour: its sum is its own
        if not stored:
            return
        cost_key = cost_statistic_id(self.provider, meter.id, quantity)
        costs = await recorder.async_rows_after(self.hass, cost_key, since - HOUR)
        if costs and costs[0][0] == since - HOUR:
            cost_before = costs[0][2]
        elif costs:
            cost_before = costs[0][2] - costs[0][1]  # its state is its hour's cost
        else:
            last = await recorder.async_last_anchor(self.hass, cost_key)
            cost_before = last.sum if last else 0.0
        price_at = await self._async_price_at(
            TARIFFS[quantity, meter.medium], since, stored[-1][0] + HOUR
        )
        rows = cost_rows(stored, sum_before, cost_before, price_at)
        if rows:
            recorder.write(
                self.hass,
                cost_key,
                # Named like its sensor, with the currency: in any language.
                f"{self._name(meter, quantity)} ({self.hass.config.currency})",
                (self.hass.config.currency, None),
                rows,
            )

    async def _async_price_at(
        self, tariff: str, start: datetime, end: datetime
    ) -> PriceAt:
        """A tariff's price per hour: its fixed price's history, or its entity's."""
        entity_id = self._prices.get(tariff)
        if isinstance(entity_id, str):
            return await async_entity_prices(self.hass, entity_id, start, end)
        return self._price_history.get(tariff, PriceHistory()).price_at

    def _name(self, meter: Meter, quantity: Quantity) -> str:
        """Named as the register's sensor, to find it in the energy settings."""
        entities = er.async_get(self.hass)
        unique_id = entity_unique_id(self.provider, meter.id, quantity)
        entity_id = entities.async_get_entity_id(Platform.SENSOR, DOMAIN, unique_id)
        entity = entities.async_get(entity_id) if entity_id else None
        if entity and (name := entity.name or entity.original_name):
            return f"{self.device_name(meter)} {name}"
        # Before the sensor exists (its platform sets up after the first import).
        return f"{self.device_name(meter)} {quantity.replace('_', ' ')}"

    def device_name(self, meter: Meter) -> str:
        """A meter's device name, as its statistics' names begin."""
        return meter_device_name(self.hass, self.provider, self.entry.entry_id, meter)


def _totals(meter: Meter, readings: Iterable[Reading]) -> set[Quantity]:
    return {q for r in readings for q in r.values if is_consumption(q, meter.medium)}
