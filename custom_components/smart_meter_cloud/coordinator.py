"""One coordinator per config entry keeps every chosen meter current."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
import logging
from typing import Final, override

from homeassistant.config_entries import ConfigEntry
from homeassistant.const import CONF_SCAN_INTERVAL
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.update_coordinator import DataUpdateCoordinator
from homeassistant.util import dt as dt_util

from .api.errors import InvalidResponseError, SmartMeterCloudError
from .api.models import (
    Alarm,
    Appliance,
    ApplianceClient,
    Medium,
    Meter,
    MeterClient,
    Reading,
)
from .const import CONF_METERS, DOMAIN
from .errors import error_key, translated
from .ids import appliance_key, entity_unique_id, meter_of_device
from .quantities import TOTAL_QUANTITIES, most_per_hour

_LOGGER = logging.getLogger(__name__)

# How often the account's meter list is read again: meters that join the
# account (or, for inexogy, start measuring) appear, and those that leave go,
# without a reload.
METER_LIST_INTERVAL: Final = timedelta(hours=1)
# A meter missing from the account's list goes, with its device, only once
# it was missing from this many listings in a row, over this long at least.
GONE_AFTER_LISTINGS: Final = 3
GONE_AFTER: Final = timedelta(hours=2)
# A push comes hours late, never early: one stamped later than this ahead of
# our clock has a clock gone wrong behind it. Taken, it would stand as the
# latest reading until its time came and spread made-up consumption over the
# hours before it.
MAX_CLOCK_SKEW: Final = timedelta(minutes=5)
# Two readings closer than this are judged as this far apart: a meter's
# own clock and the cloud's rounding blur the time between them.
MIN_HOURS: Final = 1 / 60

# A meter whose cloud said it has no appliances (no disaggregation) is asked
# again this long after, not with every listing.
NO_APPLIANCES_RECHECK: Final = timedelta(days=1)

# Hands the readings of an update over: (meter id, reading), as they came.
type ReadingsListener = Callable[[Sequence[tuple[str, Reading]]], None]


def missing_long_enough(missing: tuple[datetime, int], now: datetime) -> bool:
    """Whether what was missing (since when, from how many listings) is gone."""
    since, times = missing
    return times >= GONE_AFTER_LISTINGS and now - since >= GONE_AFTER


@dataclass(frozen=True, slots=True)
class MeterData:
    """The latest good reading of each meter, and why a meter has none now."""

    readings: Mapping[str, Reading] = field(default_factory=dict)
    failures: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class MeterAppliances:
    """The appliances a cloud finds in a meter's load curve, and today's energy."""

    # By appliance id, as last listed.
    appliances: dict[str, Appliance]
    # kWh of each appliance (by id) in today's whole hours that came so far.
    today: dict[str, float] = field(default_factory=dict)


def keep_totals_monotonic(previous: Reading | None, new: Reading) -> Reading:
    """Drop total registers that went backwards, jumped or came as all zeros.

    The cloud now and then answers with every total at 0, with a total below
    one it reported before, or with a spike no meter could deliver in the
    time since; none is real consumption, so the last good value stays.
    """
    totals = {q: v for q, v in new.values.items() if q in TOTAL_QUANTITIES}
    glitch = bool(totals) and not any(totals.values())
    before = previous.values if previous else {}
    hours = (
        max((new.time - previous.time) / timedelta(hours=1), MIN_HOURS)
        if previous
        else 0.0
    )
    wrong = [
        q
        for q, v in totals.items()
        if glitch
        or v < before.get(q, v)
        or v - before.get(q, v) > most_per_hour(q) * hours
    ]
    if not wrong:
        return new
    values = dict(new.values)
    for quantity in wrong:
        if quantity in before:
            values[quantity] = before[quantity]
        else:
            del values[quantity]
    return replace(new, values=values)


def merge_reading(previous: Reading | None, new: Reading) -> Reading:
    """The new reading over the previous one: what it lacks or got wrong stays.

    A register it does not carry (a partial or malformed answer) keeps its
    last value, unless the meter reports it as not known now; so do totals
    that went wrong and alarms it does not report.
    """
    new = keep_totals_monotonic(previous, new)
    if previous is None:
        return new
    values = {
        quantity: value
        for quantity, value in {**previous.values, **new.values}.items()
        if quantity not in new.unknown
    }
    if new.alarms is None:
        return replace(
            new, values=values, alarms=previous.alarms, info_code=previous.info_code
        )
    return replace(new, values=values)


class SmartMeterCoordinator(DataUpdateCoordinator[MeterData]):
    """Polls the latest readings of the entry's chosen, active meters."""

    config_entry: ConfigEntry

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        client: MeterClient,
        provider: str,
        default_interval: timedelta,
    ) -> None:
        """Set up polling at the entry's interval; meters are listed on setup."""
        seconds = entry.options.get(CONF_SCAN_INTERVAL)
        super().__init__(
            hass,
            _LOGGER,
            config_entry=entry,
            name=f"{DOMAIN} {provider}",
            update_interval=(
                timedelta(seconds=seconds) if seconds else default_interval
            ),
        )
        self.client = client
        self.provider = provider
        # Active meters of the account, and the ones chosen to be polled.
        self.available_meters: dict[str, Meter] = {}
        self.meters: dict[str, Meter] = {}
        self._meters_listed = dt_util.utcnow()
        # The readings of the update under way, pushes included, handed to
        # the readings listeners once the update's data is set.
        self._received: list[tuple[str, Reading]] = []
        self._readings_listeners: list[ReadingsListener] = []
        # When each meter's alarms were last reported.
        self._alarms_at: dict[str, datetime] = {}
        # Meters missing from the latest listings: since when, how many times.
        self._missing: dict[str, tuple[datetime, int]] = {}
        # Each meter's appliances, for a cloud that disaggregates; meters it
        # said have none, and when it said so.
        self.appliances: dict[str, MeterAppliances] = {}
        self._without_appliances: dict[str, datetime] = {}
        # Appliances missing from their meter's latest listings: since when,
        # how many times.
        self._appliances_missing: dict[tuple[str, str], tuple[datetime, int]] = {}

    @override
    async def _async_setup(self) -> None:
        """List the account's meters before the first poll."""
        try:
            await self._async_list_meters()
        except SmartMeterCloudError as err:
            raise translated(err) from err

    async def _async_list_meters(self) -> None:
        """Poll the active meters chosen in the options; all when none were.

        A meter chosen by name stays; with no choice, every meter the account
        gains is polled. A meter the cloud says is inactive, or one no
        longer chosen, goes with its device; one missing from the list goes
        only when it stayed missing (one empty answer deletes nothing).
        """
        meters = await self.client.meters()
        now = self._meters_listed = dt_util.utcnow()
        chosen = self.config_entry.options.get(CONF_METERS)
        listed = {m.id for m in meters}
        self.available_meters = {m.id: m for m in meters if m.active}
        registry = dr.async_get(self.hass)
        devices = {
            meter_of_device(device, self.provider): device
            for device in dr.async_entries_for_config_entry(
                registry, self.config_entry.entry_id
            )
        }
        # Polled, or known from a device of an earlier run.
        missing = (self.meters.keys() | devices.keys()) - listed
        self._missing = {
            meter_id: (since, times + 1)
            for meter_id in missing
            for since, times in [self._missing.get(meter_id, (now, 0))]
        }
        kept = {
            meter_id: meter
            for meter_id, meter in self.meters.items()
            if meter_id in missing and not self._gone(meter_id, now)
        }
        self.meters = {
            meter_id: meter
            for meter_id, meter in (self.available_meters | kept).items()
            if chosen is None or meter_id in chosen
        }
        # Devices of meters no longer polled go: deselected, inactive, or
        # missing long enough. Their entity ids, names and areas are the
        # user's, so one that is only missing waits.
        for meter_id, device in devices.items():
            if meter_id not in self.meters and not (
                meter_id in missing and not self._gone(meter_id, now)
            ):
                registry.async_remove_device(device.id)
        await self._async_list_appliances(now)

    async def _async_list_appliances(self, now: datetime) -> None:
        """List each polled electricity meter's appliances, if the cloud has any.

        A meter without is asked again a day later; one whose listing failed
        keeps what it had. An appliance no longer listed goes with its
        entities once it stayed missing; its statistic stays.
        """
        if not isinstance(self.client, ApplianceClient):
            return
        for meter_id in self.appliances.keys() - self.meters.keys():
            del self.appliances[meter_id]
        for meter in list(self.meters.values()):
            checked = self._without_appliances.get(meter.id)
            if meter.medium is not Medium.ELECTRICITY or (
                checked is not None and now - checked < NO_APPLIANCES_RECHECK
            ):
                continue
            try:
                found = await self.client.appliances(meter)
            except SmartMeterCloudError as err:
                _LOGGER.debug("Cannot list the appliances of %s now: %s", meter.id, err)
                continue
            had = self.appliances.pop(meter.id, None)
            listed = self._follow_appliances(
                meter.id,
                {appliance.id: appliance for appliance in found or ()},
                had.appliances if had else {},
                now,
            )
            if found is None and not listed:
                # A meter that had appliances is asked again at the next
                # listing: one odd answer does not hide them for a day.
                if had is None:
                    self._without_appliances[meter.id] = now
            else:
                self._without_appliances.pop(meter.id, None)
                today = had.today if had else {}
                self.appliances[meter.id] = MeterAppliances(
                    listed, {k: v for k, v in today.items() if k in listed}
                )

    def _follow_appliances(
        self,
        meter_id: str,
        found: dict[str, Appliance],
        had: dict[str, Appliance],
        now: datetime,
    ) -> dict[str, Appliance]:
        """A meter's appliances: those listed, and those missing only lately.

        One missing from the cloud's list goes, with its entity, once it
        stayed missing as long as a meter must (one odd answer costs no one
        their entity's name and area); so does one that went while Home
        Assistant was not running, known from the registry.
        """
        registry = er.async_get(self.hass)
        prefix = entity_unique_id(self.provider, meter_id, appliance_key(""))
        entities = {
            entity.unique_id.removeprefix(prefix): entity.entity_id
            for entity in er.async_entries_for_config_entry(
                registry, self.config_entry.entry_id
            )
            if entity.unique_id.startswith(prefix)
        }
        kept = dict(found)
        for appliance_id in found:
            self._appliances_missing.pop((meter_id, appliance_id), None)
        for appliance_id in (entities.keys() | had.keys()) - found.keys():
            key = (meter_id, appliance_id)
            since, times = self._appliances_missing.get(key, (now, 0))
            if missing_long_enough((since, times + 1), now):
                self._appliances_missing.pop(key, None)
                _LOGGER.info("Appliance %s of meter %s is gone", appliance_id, meter_id)
                if entity_id := entities.get(appliance_id):
                    registry.async_remove(entity_id)
                continue
            self._appliances_missing[key] = (since, times + 1)
            if appliance_id in had:
                kept[appliance_id] = had[appliance_id]
        return kept

    def _gone(self, meter_id: str, now: datetime) -> bool:
        """Whether a meter has been missing from the list long enough to go."""
        return missing_long_enough(self._missing.get(meter_id, (now, 0)), now)

    async def _async_list_meters_again(self) -> list[str]:
        """Follow the account's meters, say what changed; return those joined."""
        available, polled = set(self.available_meters), set(self.meters)
        try:
            await self._async_list_meters()
        except SmartMeterCloudError as err:
            # The readings came through: the list is read again at the next
            # update.
            _LOGGER.debug("Cannot list the meters now: %s", err)
            return []
        joined = [meter_id for meter_id in self.meters if meter_id not in polled]
        for meter_id in joined:
            _LOGGER.info("Meter %s joined the account", meter_id)
        for meter_id in self.available_meters.keys() - available - self.meters.keys():
            _LOGGER.info(
                "Meter %s joined the account; choose it in the options to show it",
                meter_id,
            )
        for meter_id in polled - self.meters.keys():
            _LOGGER.info("Meter %s is no longer active in the account", meter_id)
        return joined

    @override
    async def _async_update_data(self) -> MeterData:
        previous = self.data or MeterData()
        try:
            results = await self.client.latest_readings(list(self.meters.values()))
        except SmartMeterCloudError as err:
            raise translated(err) from err
        errors = {k: v for k, v in results.items() if not isinstance(v, Reading)}
        if errors and len(errors) == len(results):
            # Nothing came through: the coordinator marks everything
            # unavailable and logs it once.
            raise translated(next(iter(errors.values())))
        # Only once the readings came through: a cloud that fails, throttles
        # or hangs is not asked a second time in the same update.
        if dt_util.utcnow() - self._meters_listed >= METER_LIST_INTERVAL and (
            joined := await self._async_list_meters_again()
        ):
            try:
                results |= await self.client.latest_readings(
                    [self.meters[meter_id] for meter_id in joined]
                )
            except SmartMeterCloudError as err:
                _LOGGER.debug("Cannot read the joined meters now: %s", err)
        # Readings of meters no longer polled go with them.
        readings = {
            meter_id: reading
            for meter_id, reading in previous.readings.items()
            if meter_id in self.meters
        }
        for meter_id, result in results.items():
            if meter_id not in self.meters or not isinstance(result, Reading):
                continue
            if result.time > dt_util.utcnow() + MAX_CLOCK_SKEW:
                # Taken, it would stand as the latest until its time came.
                errors[meter_id] = InvalidResponseError(
                    f"reading stamped {result.time.isoformat()}, ahead of our clock"
                )
                continue
            self._received.append((meter_id, result))
            readings[meter_id] = self._merged(meter_id, readings.get(meter_id), result)
        failures = {
            meter_id: error_key(err)
            for meter_id, err in errors.items()
            if meter_id in self.meters
        }
        for meter_id in failures.keys() - previous.failures.keys():
            _LOGGER.warning("Meter %s is unavailable: %s", meter_id, errors[meter_id])
        for meter_id in (
            previous.failures.keys() - failures.keys()
        ) & self.meters.keys():
            _LOGGER.info("Meter %s is available again", meter_id)
        return MeterData(readings=readings, failures=failures)

    @callback
    def async_push_readings(self, pushed: Iterable[tuple[str, Reading]]) -> None:
        """Apply pushed readings of our meters; an older hour never wins."""
        data = self.data or MeterData()
        readings = dict(data.readings)
        for meter_id, reading in pushed:
            if meter_id not in self.meters or _from_the_future(meter_id, reading.time):
                continue
            self._received.append((meter_id, reading))
            old = readings.get(meter_id)
            if old is None or reading.time >= old.time:
                readings[meter_id] = self._merged(meter_id, old, reading)
        self.async_set_updated_data(MeterData(readings, data.failures))

    def _merged(self, meter_id: str, old: Reading | None, new: Reading) -> Reading:
        """A newer reading over the old; its alarms only if not older than ours."""
        merged = merge_reading(old, new)
        if new.alarms is None:
            return merged
        at = self._alarms_at.get(meter_id)
        if at is not None and new.time < at and old is not None:
            return replace(merged, alarms=old.alarms, info_code=old.info_code)
        self._alarms_at[meter_id] = new.time
        return merged

    @callback
    def async_add_readings_listener(self, listener: ReadingsListener) -> CALLBACK_TYPE:
        """Hand every update's readings, as received, to a listener.

        Unlike the update listeners, which see the latest reading per meter,
        this sees each reading that came: a push may carry many hours.
        """
        self._readings_listeners.append(listener)
        return lambda: self._readings_listeners.remove(listener)

    @callback
    @override
    def async_update_listeners(self) -> None:
        """Tell the entities, then hand the update's readings over."""
        super().async_update_listeners()
        received, self._received = self._received, []
        if received:
            for listener in list(self._readings_listeners):
                listener(received)

    @callback
    def async_push_alarms(
        self, pushed: Iterable[tuple[str, datetime, frozenset[Alarm], int]]
    ) -> None:
        """Apply pushed alarm changes of our meters; an older one never wins.

        A redelivered or late alarm push must not clear a leak or burst that
        a newer push or reading reported.
        """
        data = self.data or MeterData()
        readings = dict(data.readings)
        for meter_id, moment, alarms, code in pushed:
            if meter_id not in self.meters or _from_the_future(meter_id, moment):
                continue
            if (at := self._alarms_at.get(meter_id)) is not None and moment < at:
                _LOGGER.debug(
                    "Ignoring alarms of meter %s stamped %s, older than %s",
                    meter_id,
                    moment,
                    at,
                )
                continue
            self._alarms_at[meter_id] = moment
            base = readings.get(meter_id) or Reading(time=moment, values={})
            readings[meter_id] = replace(base, alarms=alarms, info_code=code)
        self.async_set_updated_data(MeterData(readings, data.failures))


def _from_the_future(meter_id: str, moment: datetime) -> bool:
    if moment <= dt_util.utcnow() + MAX_CLOCK_SKEW:
        return False
    _LOGGER.debug("Ignoring a push for meter %s stamped %s, ahead", meter_id, moment)
    return True
