"""The appliances a cloud finds in a meter's load curve: statistics, today, runs.

For a client that implements `ApplianceClient` (a cloud that disaggregates),
once an hour per meter with appliances (the coordinator lists them with the
meters): each appliance's energy becomes an external hourly statistic
(kWh, with sum) the energy dashboard's Individual devices can pick, today's
energy goes to its sensor, and its runs become logbook events at their own
time. Hours and runs come late: an hour is written once the client has it
whole, from the last stored hour on (never twice, never a part), and runs
are told apart by their run id, kept across restarts.
"""

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
import logging
from typing import Any, Final

from homeassistant.components.recorder.models import StatisticData
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_time_change
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from ..api.errors import SmartMeterCloudError
from ..api.models import (
    Appliance,
    ApplianceClient,
    ApplianceRun,
    Meter,
    Quantity,
    Reading,
)
from ..const import DOMAIN
from ..coordinator import MeterAppliances, SmartMeterCoordinator
from ..ids import appliance_statistic_id, device_identifier, store_key
from ..names import appliance_name
from ..quantities import statistic_unit
from . import recorder
from .background import BackgroundJob
from .importer import CHUNK, MAX_HISTORY_WAIT, MeterStatistics
from .rows import HOUR, Anchor, anchor_at, changed, floor_hour

_LOGGER = logging.getLogger(__name__)

EVENT_APPLIANCE_RUN: Final = f"{DOMAIN}_appliance_run"
# Runs are asked for again from this long before the newest one logged: one
# published late is still found; its run id tells one logged already.
RUN_OVERLAP: Final = MAX_HISTORY_WAIT
# The first time, the runs of this long back are logged.
FIRST_RUNS: Final = timedelta(days=1)
# An hour still missing this long after it ended, while later ones came,
# is not coming: the hours after it are written without it.
GIVE_UP_AFTER: Final = MAX_HISTORY_WAIT


def runs_store(hass: HomeAssistant, entry: ConfigEntry) -> Store[dict[str, Any]]:
    """Where an entry keeps the runs it logged: run id -> end, per meter."""
    return Store(hass, 1, store_key(entry, "appliance_runs"))


class ApplianceStatistics:
    """Keeps one entry's appliance statistics, today's energy and runs current."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        coordinator: SmartMeterCoordinator,
        statistics: MeterStatistics,
    ) -> None:
        """Nothing is read or written before `async_start`."""
        self.hass = hass
        self.entry = entry
        self.coordinator = coordinator
        self.statistics = statistics
        self._store = runs_store(hass, entry)
        # By statistic id: where its stored hours end.
        self._anchors: dict[str, Anchor | None] = {}
        # Per meter: when to ask next, for which appliances.
        self._due: dict[str, tuple[datetime, frozenset[str]]] = {}
        # Per meter: the runs logged lately, run id -> end.
        self._logged: dict[str, dict[str, str]] = {}
        self.job = BackgroundJob(
            hass, entry, "smart_meter_cloud appliances", self._async_run
        )
        self._lock = asyncio.Lock()
        self._started = False

    async def async_load(self) -> None:
        """Read which runs were logged."""
        self._logged = await self._store.async_load() or {}

    @callback
    def async_start(self) -> None:
        """Start after the entry's sensors are set up; reset today at midnight."""
        self._started = True
        self.entry.async_on_unload(
            async_track_time_change(
                self.hass, self._async_midnight, hour=0, minute=0, second=0
            )
        )
        self.async_schedule()

    @callback
    def async_take_readings(self, readings: Sequence[tuple[str, Reading]]) -> None:
        """After each update (a coordinator's readings listener): see what is due."""
        self.async_schedule()

    @callback
    def async_schedule(self) -> None:
        """Run in the background; never two runs at once."""
        if not self._started or not self.coordinator.appliances:
            return
        self.job.async_schedule()

    @callback
    def _async_midnight(self, now: datetime) -> None:
        """A new day: today's energy starts at zero."""
        for found in self.coordinator.appliances.values():
            found.today = dict.fromkeys(found.appliances, 0.0)
        self.coordinator.async_update_listeners()

    async def _async_run(self, first: bool) -> None:
        if first:
            # Hours an earlier setup queued must be readable before the anchors.
            await recorder.async_written(self.hass)
        for meter_id in list(self.coordinator.appliances):
            await self._async_update_meter(meter_id)

    async def _async_update_meter(self, meter_id: str) -> None:
        """Once an hour, or when the appliances changed: energy, today, runs."""
        meter = self.coordinator.meters.get(meter_id)
        found = self.coordinator.appliances.get(meter_id)
        client = self.coordinator.client
        if meter is None or found is None or not isinstance(client, ApplianceClient):
            return
        now = dt_util.utcnow()
        listed = frozenset(found.appliances)
        due, asked = self._due.get(meter_id, (now, frozenset()))
        if now < due and asked == listed:
            return
        # Whatever comes of it: the next hour, which may bring the late ones.
        self._due[meter_id] = (floor_hour(now) + HOUR, listed)
        async with self._lock:
            try:
                await self._async_continue(client, meter, found, floor_hour(now))
                await self._async_log_runs(client, meter, found, now)
            except SmartMeterCloudError as err:
                _LOGGER.debug(
                    "Appliances of meter %s not available now: %s", meter_id, err
                )
            await self._async_update_today(meter, found)

    def _keys(self, meter: Meter, found: MeterAppliances) -> dict[str, str]:
        provider = self.coordinator.provider
        return {
            appliance_id: appliance_statistic_id(provider, meter.id, appliance_id)
            for appliance_id in found.appliances
        }

    async def _async_continue(
        self,
        client: ApplianceClient,
        meter: Meter,
        found: MeterAppliances,
        end: datetime,
    ) -> None:
        """Write each appliance's whole hours after its last stored one."""
        keys = self._keys(meter, found)
        anchors = {key: await self._async_anchor(key) for key in keys.values()}
        backfill = self.statistics.history_start or end - self.statistics.backfill
        starts = {key: a.time if a else backfill for key, a in anchors.items()}
        energy = await _async_energy(
            client, meter, min(starts.values(), default=end), end
        )
        for appliance_id, key in keys.items():
            anchor = anchors[key] or Anchor(starts[key], 0.0, 0.0)
            rows, self._anchors[key] = _rows(anchor, energy, appliance_id, end)
            self._write(meter, found.appliances[appliance_id], key, rows)

    async def async_import(self, meter: Meter, start: datetime, end: datetime) -> None:
        """Import the appliances' hours from start to end again (the action).

        The range joins the stored hours around it, as the meter's do: the
        hours after it keep their energy, their sums moved in one step.
        """
        found = self.coordinator.appliances.get(meter.id)
        client = self.coordinator.client
        if found is None or not isinstance(client, ApplianceClient):
            return
        async with self._lock:
            energy = await _async_energy(client, meter, start, end)
            for appliance_id, key in self._keys(meter, found).items():
                stored = await recorder.async_rows_after(self.hass, key, start - HOUR)
                base = anchor_at(start, stored)
                rows, anchor = _rows(
                    Anchor(start, 0.0, base.sum if base else 0.0),
                    energy,
                    appliance_id,
                    end,
                )
                # Writing is the slow part: hours stored as they are stay.
                appliance = found.appliances[appliance_id]
                self._write(meter, appliance, key, changed(rows, stored))
                later = [row for row in stored if row[0] >= anchor.time]
                if rows and later:
                    # The first later hour's own energy stays what it was.
                    shift = anchor.sum - (later[0][2] - later[0][1])
                    recorder.move_sums(
                        self.hass, key, anchor.time, shift, Quantity.ENERGY_IMPORT
                    )
                self._anchors.pop(key, None)
            await recorder.async_written(self.hass)
            await self._async_update_today(meter, found)

    def _write(
        self, meter: Meter, appliance: Appliance, key: str, rows: list[StatisticData]
    ) -> None:
        """Queue an appliance's rows, named "<meter's device> <appliance>"."""
        if not rows:
            return
        label = appliance_name(
            self.hass, appliance.kind, appliance.number, appliance.name
        )
        name = f"{self.statistics.device_name(meter)} {label}"
        unit = statistic_unit(Quantity.ENERGY_IMPORT)
        recorder.write(self.hass, key, name, unit, rows)

    async def _async_update_today(self, meter: Meter, found: MeterAppliances) -> None:
        """Today's energy of each appliance: its stored hours since midnight."""
        keys = self._keys(meter, found)
        await recorder.async_written(self.hass)
        changes = await recorder.async_changes_since(
            self.hass, set(keys.values()), dt_util.start_of_local_day()
        )
        today = {appliance_id: changes[key] for appliance_id, key in keys.items()}
        if today != found.today:
            found.today = today
            self.coordinator.async_update_listeners()

    async def _async_log_runs(
        self,
        client: ApplianceClient,
        meter: Meter,
        found: MeterAppliances,
        now: datetime,
    ) -> None:
        """Fire an event for every run not logged yet, at the time it ended."""
        device = self._device(meter)
        if device is None:
            return  # its device comes with its sensors: at the next run
        logged = self._logged.setdefault(meter.id, {})
        ends = [dt_util.parse_datetime(end) for end in logged.values()]
        newest = max((end for end in ends if end is not None), default=None)
        start = newest - RUN_OVERLAP if newest else now - FIRST_RUNS
        runs = await client.appliance_runs(meter, start, now)
        new = sorted(
            (run for run in runs if run.run_id not in logged),
            key=lambda run: run.end,
        )
        for run in new:
            self._fire(device.id, found.appliances.get(run.appliance_id), run)
            logged[run.run_id] = run.end.isoformat()
        if new:
            newest = max(run.end for run in new)
            self._logged[meter.id] = {
                run_id: end
                for run_id, end in logged.items()
                if (moment := dt_util.parse_datetime(end)) is not None
                and moment >= newest - RUN_OVERLAP - HOUR
            }
            await self._store.async_save(self._logged)

    def _fire(
        self, device_id: str, appliance: Appliance | None, run: ApplianceRun
    ) -> None:
        """The run as an event of the meter's device, fired at the run's end."""
        self.hass.bus.async_fire(
            EVENT_APPLIANCE_RUN,
            {
                "device_id": device_id,
                "appliance_id": run.appliance_id,
                "kind": appliance.kind if appliance else "",
                "number": appliance.number if appliance else 0,
                "name": appliance.name if appliance else run.appliance_id,
                "start": run.start.isoformat(),
                "end": run.end.isoformat(),
                "energy": round(run.energy, 3),
                "run_id": run.run_id,
            },
            time_fired=run.end.timestamp(),
        )

    async def _async_anchor(self, key: str) -> Anchor | None:
        if key not in self._anchors:
            self._anchors[key] = await recorder.async_last_anchor(self.hass, key)
        return self._anchors[key]

    def _device(self, meter: Meter) -> dr.DeviceEntry | None:
        return dr.async_get(self.hass).async_get_device_by_identifier(
            device_identifier(self.coordinator.provider, meter.id),
            self.entry.entry_id,
        )

    def diagnostics(self) -> dict[str, Any]:
        """Each meter's appliances and when they were last asked for."""
        return {
            meter_id: {
                "appliances": [
                    {"id": a.id, "kind": a.kind, "number": a.number}
                    for a in found.appliances.values()
                ],
                "next": self._due[meter_id][0].isoformat()
                if meter_id in self._due
                else None,
            }
            for meter_id, found in self.coordinator.appliances.items()
        }


async def _async_energy(
    client: ApplianceClient, meter: Meter, start: datetime, end: datetime
) -> dict[datetime, dict[str, float]]:
    """The appliances' energy per whole hour from start to end, in chunks."""
    energy: dict[datetime, dict[str, float]] = {}
    while start < end:
        chunk_end = min(start + CHUNK, end)
        energy |= await client.appliance_energy(meter, start, chunk_end)
        start = chunk_end
    return energy


def _rows(
    anchor: Anchor,
    energy: Mapping[datetime, Mapping[str, float]],
    appliance_id: str,
    end: datetime,
) -> tuple[list[StatisticData], Anchor]:
    """An appliance's rows after its anchor, and where they end.

    A row's state is its hour's energy, its sum the energy since the first
    hour. They stop at the first hour that has not come, unless it is long
    overdue and later hours came: then it is left out.
    """
    rows: list[StatisticData] = []
    hour, total = anchor.time, anchor.sum
    latest = max(energy, default=hour)
    while hour < end:
        if hour in energy:
            used = max(0.0, energy[hour].get(appliance_id, 0.0))
            total += used
            rows.append(StatisticData(start=hour, state=used, sum=total))
        elif not (hour < latest and hour + HOUR <= end - GIVE_UP_AFTER):
            break
        hour += HOUR
    return rows, Anchor(hour, total, total)
