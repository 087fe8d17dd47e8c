"""Days on a moving clock through the clouds' faults: nothing lost, nothing doubled.

Each run polls (and for READY receives pushes) for simulated days while the
cloud revokes tokens, throttles, fails, hangs and goes down for a whole day.
It checks what a user would see: entities unavailable while the cloud fails
and back after, one log line per change, a reauth flow rather than a crash,
requests bounded and Retry-After honoured, and hourly statistics without a
gap or a duplicate whose sums add up to the meter totals. Each run prints its
figures (faults injected, requests, answers).
"""

from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
import logging
import math
from typing import Protocol

from freezegun.api import FrozenDateTimeFactory
from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import Event, EventStateChangedData, HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.event import async_track_state_change_event
import pytest

from custom_components.smart_meter_cloud.const import DOMAIN
from tests.simulator import Answer, HistoryWindow, ready as ready_sim
from tests.simulator.inexogy import DEMO_PASSWORD, Fault, SimMeter
from tests.simulator.ready import Fault as ReadyFault

from .conftest import (
    Inexogy,
    Ready,
    add_inexogy_entry,
    add_ready_entry,
    assert_statistics_complete,
    hours_since_backfill,
    poll,
    ready_statistics,
    settle,
    state,
)

# Each run takes from seconds to minutes: `scripts/test --all` runs them.
pytestmark = pytest.mark.slow

HOUR = 3600


class Simulator(Protocol):
    """What a run needs of either simulator."""

    answers: list[Answer]

    def request_count(self, path: str) -> int: ...

    async def wait_for_requests(self, path: str, count: int) -> None: ...


@dataclass
class Availability:
    """Counts an entity's turns to unavailable and back, as the states show."""

    lost: int = 0
    back: int = 0

    @callback
    def seen(self, event: Event[EventStateChangedData]) -> None:
        old, new = event.data["old_state"], event.data["new_state"]
        if old is None or new is None:  # added or removed by a reload
            return
        if new.state == STATE_UNAVAILABLE != old.state:
            self.lost += 1
        elif old.state == STATE_UNAVAILABLE != new.state:
            self.back += 1


@dataclass
class Run:
    """A clock moved step by step, what it brought, and the figures to report.

    ``polled`` is the path a poll asks for, ``watched`` the entity whose
    availability is followed; ``every_step`` runs after each step (pushes).
    """

    hass: HomeAssistant
    freezer: FrozenDateTimeFactory
    sim: Simulator
    polled: str
    watched: str
    step: int
    every_step: Callable[[], Awaitable[None]] | None = None
    seen: Availability = field(default_factory=Availability)
    faults: Counter[str] = field(default_factory=Counter)
    phases: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        """Follow the watched entity from now on."""
        async_track_state_change_event(self.hass, [self.watched], self.seen.seen)

    async def phase(
        self, name: str, hours: float, change: Callable[[], None] | None = None
    ) -> list[Answer]:
        """Make a change, run for a while; return the answers given meanwhile."""
        first = len(self.sim.answers)
        if change is not None:
            change()
        for _ in range(round(hours * HOUR / self.step)):
            await poll(self.hass, self.freezer, self.step)
            if self.every_step is not None:
                await self.every_step()
        return self.note(name, hours, first)

    async def hanging(
        self,
        polls: int,
        *,
        due: float,
        per_poll: int,
        limit: float,
        hang: Callable[[], None],
        release: Callable[[], None],
    ) -> list[Answer]:
        """Polls whose requests reach the cloud and hang until the client gives up.

        Each poll falls due ``due`` seconds after the last and asks ``per_poll``
        times; the client gives up after ``limit`` seconds.
        """
        first = len(self.sim.answers)
        hang()
        for _ in range(polls):
            before = self.sim.request_count(self.polled)
            await poll(self.hass, self.freezer, due, wait=False)
            await self.sim.wait_for_requests(self.polled, before + per_poll)
            # Past the client's timeout: the poll fails and schedules the next.
            await poll(self.hass, self.freezer, limit + 1)
        assert state(self.hass, self.watched) == STATE_UNAVAILABLE
        release()  # what still hangs is answered now
        await self.hass.async_block_till_done()
        return self.note("hanging requests", polls * (due + limit + 1) / HOUR, first)

    def note(self, name: str, hours: float, first: int) -> list[Answer]:
        """Record a phase's answers from the ``first`` on; return them."""
        answered = self.sim.answers[first:]
        statuses = Counter(a.status for a in answered)
        self.faults[name] += sum(n for status, n in statuses.items() if status >= 400)
        self.phases.append(
            f"{name}: {hours:.3g} h, {len(answered)} requests, answers "
            + ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items()))
        )
        return answered

    def report(self, title: str, **figures: object) -> None:
        """Print the run's figures."""
        print(f"\n{title}")
        for line in self.phases:
            print(f"  {line}")
        for name, value in figures.items():
            print(f"  {name.replace('_', ' ')}: {value}")


def assert_retry_after_honoured(answers: Sequence[Answer], retry_after: float) -> int:
    """No request between a 429 and its Retry-After, but those of the same round.

    A round is what a client asked at one moment of the frozen clock. Returns
    how many 429s were answered.
    """
    limited = [a for a in answers if a.status == 429]
    for refused in limited:
        early = [a for a in answers if refused.at < a.at < refused.at + retry_after]
        assert early == [], (refused, early)
    return len(limited)


def errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """Error lines, and tracebacks at warning or above, of any logger."""
    return [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR or (r.levelno >= logging.WARNING and r.exc_info)
    ]


async def reauthenticate(hass: HomeAssistant, user_input: dict[str, str]) -> None:
    """Answer the one reauth flow, as a user would."""
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [f["context"]["source"] for f in flows] == [SOURCE_REAUTH]
    result = await hass.config_entries.flow.async_configure(
        flows[0]["flow_id"], user_input
    )
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done(wait_background_tasks=True)


# --- inexogy -----------------------------------------------------------------------

INEXOGY_STEP = 300  # the polling interval of the run, in seconds
INEXOGY_RETRY_AFTER = 900
INEXOGY_TIMEOUT = 20  # seconds, the client's
POWER = "sensor.electricity_meter_3456_power"
INEXOGY_TOTALS = {
    "energy": ("energy_import", 1e10),
    "energyOut": ("energy_export", 1e10),
}


def inexogy_statistics(inexogy: Inexogy) -> dict[str, Callable[[datetime], float]]:
    """Statistic id -> the meter total it must follow, for every active meter."""
    found: dict[str, Callable[[datetime], float]] = {}
    for meter in inexogy.sim.meters:
        if not meter.active:
            continue
        fields = {"volume": ("volume", 1e3)} if "volume" in meter.fields else {}
        for field_name, (quantity, scale) in (fields or INEXOGY_TOTALS).items():

            def total(
                at: datetime,
                m: SimMeter = meter,
                f: str = field_name,
                s: float = scale,
            ) -> float:
                return m.values_at(int(at.timestamp()) * 1000, False)[f] / s

            found[f"{DOMAIN}:inexogy_{meter.meter_id}_{quantity}"] = total
    return found


@pytest.mark.history_days(30)
async def test_inexogy_through_days_of_faults(
    hass: HomeAssistant,
    inexogy: Inexogy,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    entry = await add_inexogy_entry(hass, inexogy.url)
    flow = await hass.config_entries.options.async_init(entry.entry_id)
    await hass.config_entries.options.async_configure(
        flow["flow_id"], {"scan_interval": INEXOGY_STEP, "history_days": 30}
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    started = datetime.now(UTC)
    sim = inexogy.sim
    active = sum(1 for meter in sim.meters if meter.active)
    run = Run(hass, freezer, sim, "/last_reading", POWER, INEXOGY_STEP)

    def fault(value: Fault) -> Callable[[], None]:
        return lambda: setattr(sim, "fault", value)

    await run.phase("normal", 6)
    assert errors(caplog) == []

    # The meter list comes back empty for three hours, then whole: no device
    # goes, no entity turns unavailable.
    devices = len(dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id))
    await run.phase(
        "empty meter list", 3, lambda: setattr(sim, "list_fault", Fault.EMPTY_LIST)
    )
    await run.phase(
        "meter list back", 1, lambda: setattr(sim, "list_fault", Fault.NONE)
    )
    assert (
        len(dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id))
        == devices
    )
    # The history publishes each hour 20 minutes late for half a day: no
    # hour lost, none doubled, and history asked for at most hourly.
    window = sim.window
    late = await run.phase(
        "history late", 12, lambda: setattr(sim, "window", HistoryWindow(delay=1200))
    )
    assert sum(1 for a in late if a.path.endswith("/readings")) <= 13 * active
    await run.phase("history on time", 1, lambda: setattr(sim, "window", window))
    assert errors(caplog) == []

    # 5xx for an hour: unavailable, one error line; back, one line.
    await run.phase("502 outage", 1, fault(Fault.SERVER_ERROR))
    assert state(hass, POWER) == STATE_UNAVAILABLE
    await run.phase("after the outage", 1, fault(Fault.NONE))
    assert state(hass, POWER) != STATE_UNAVAILABLE

    # Readings hang for an hour: each poll gives up after the client's timeout.
    # (The hourly meter list still answers, so each poll reaches the readings.)
    await run.hanging(
        11,
        due=INEXOGY_STEP,
        per_poll=active,
        limit=INEXOGY_TIMEOUT,
        hang=lambda: setattr(
            sim, "meter_faults", {m.meter_id: Fault.TIMEOUT for m in sim.meters}
        ),
        release=lambda: setattr(sim, "meter_faults", {}),
    )
    await run.phase("after the hanging", 1)
    assert state(hass, POWER) != STATE_UNAVAILABLE

    # A storm of 429s for three hours: at most one round per Retry-After.
    sim.retry_after = INEXOGY_RETRY_AFTER
    storm = await run.phase("429 storm", 3, fault(Fault.RATE_LIMITED))
    assert state(hass, POWER) == STATE_UNAVAILABLE
    limited = assert_retry_after_honoured(storm, INEXOGY_RETRY_AFTER)
    rounds = len({a.at for a in storm})
    assert rounds <= math.ceil(3 * HOUR / INEXOGY_RETRY_AFTER)
    assert len(storm) <= rounds * active
    await run.phase("after the storm", 1, fault(Fault.NONE))
    assert state(hass, POWER) != STATE_UNAVAILABLE

    # The token is revoked: a reauth flow, unavailable, and no more requests.
    revoked = await run.phase("token revoked", 2, sim.revoke_tokens)
    assert {a.status for a in revoked} == {401}
    assert len({a.at for a in revoked}) == 1  # polling stopped after one round
    assert state(hass, POWER) == STATE_UNAVAILABLE
    await reauthenticate(hass, {"password": DEMO_PASSWORD})
    assert entry.state is ConfigEntryState.LOADED
    assert state(hass, POWER) != STATE_UNAVAILABLE

    # The cloud is down for a whole day.
    down = await run.phase("down for a day", 24, fault(Fault.SERVER_ERROR))
    assert state(hass, POWER) == STATE_UNAVAILABLE
    await run.phase("back after the day", 6, fault(Fault.NONE))
    assert state(hass, POWER) != STATE_UNAVAILABLE

    # One error line each time the entities went unavailable, and one line
    # each time polling recovered (the reauth's reload brought one back).
    failures = errors(caplog)
    assert len(failures) == run.seen.lost == 5, [r.getMessage() for r in failures]
    assert "Authentication failed" in failures[3].getMessage()
    recovered = [r for r in caplog.records if "recovered" in r.getMessage()]
    assert len(recovered) == run.seen.back - 1 == 4

    series = inexogy_statistics(inexogy)
    rows = await assert_statistics_complete(hass, series, started, 30)
    run.report(
        f"inexogy: {hours_since_backfill(started, 0)} simulated hours,"
        f" polled every {INEXOGY_STEP} s",
        failed_answers_by_phase=dict(run.faults),
        requests_by_path=dict(Counter(a.path for a in sim.answers)),
        requests_in_the_429_storm=f"{len(storm)} in {rounds} rounds",
        answered_429=limited,
        requests_while_down_for_a_day=len(down),
        unavailable_transitions=run.seen.lost,
        error_lines=len(failures),
        statistics=f"{len(series)} series x {rows} hours",
    )


# --- Kamstrup READY ------------------------------------------------------------------

READY_STEP = 900
READY_RETRY_AFTER = 1200
READY_TIMEOUT = 30  # seconds, the client's
READY_POLL = 3600  # the default polling interval
API = "/api/v1/"
WATER_VOLUME = "sensor.water_meter_4567_water_volume"
KEY = ready_sim.DEMO_API_KEY


def request_kind(path: str) -> str:
    """Name a READY request by what it asks for."""
    if path.startswith(ready_sim.SUBSCRIPTIONS_PATH):
        return "subscriptions"
    if path.endswith("/readings"):
        return "history"
    return path.rsplit("/", 1)[-1]


@pytest.mark.history_days(30)
async def test_ready_through_days_of_faults_and_pushes(
    hass: HomeAssistant,
    ready: Ready,
    freezer: FrozenDateTimeFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim = ready.sim
    sim.token_lifetime = 24 * HOUR  # so that a revocation meets a token in use
    entry = await add_ready_entry(hass, ready)
    started = datetime.now(UTC)

    async def push_every_other_hour() -> None:
        """READY pushes the last two hours now and then, a few minutes late."""
        if datetime.now(UTC).hour % 2 == 0 and datetime.now(UTC).minute == 30:
            await sim.push_readings(hours=2)
            await settle(hass, ready)

    run = Run(
        hass,
        freezer,
        sim,
        "/api/v1/readings/latest",
        WATER_VOLUME,
        READY_STEP,
        push_every_other_hour,
    )

    def fault(value: ReadyFault) -> Callable[[], None]:
        return lambda: setattr(sim, "fault", value)

    await run.phase("normal", 6)
    assert errors(caplog) == []

    # Tokens revoked: the client signs in again by itself, after one refusal.
    issued = sim.tokens_issued
    revoked = await run.phase("tokens revoked", 2, sim.revoke_tokens)
    assert [a.status for a in revoked if a.status >= 400] == [401]
    assert sim.tokens_issued == issued + 1
    assert errors(caplog) == []

    # Throttled, failing and hanging while pushes keep coming.
    sim.retry_after = READY_RETRY_AFTER
    storm = await run.phase("429 storm", 3, fault(ReadyFault.RATE_LIMITED))
    api = [a for a in storm if a.path.startswith(API)]
    limited = assert_retry_after_honoured(api, READY_RETRY_AFTER)
    await run.phase("after the storm", 1, fault(ReadyFault.NONE))
    assert state(hass, WATER_VOLUME) != STATE_UNAVAILABLE
    await run.phase("503 outage", 2, fault(ReadyFault.SERVER_ERROR))
    await run.phase("after the outage", 1, fault(ReadyFault.NONE))
    assert state(hass, WATER_VOLUME) != STATE_UNAVAILABLE
    await sim.push_readings()  # the next poll falls due an hour after it
    await settle(hass, ready)
    await run.hanging(
        2,
        due=READY_POLL + 1,
        per_poll=1,
        limit=READY_TIMEOUT,
        hang=fault(ReadyFault.TIMEOUT),
        release=fault(ReadyFault.NONE),
    )
    await run.phase("after the hanging", 2)
    assert state(hass, WATER_VOLUME) != STATE_UNAVAILABLE

    # The client secret is rotated in READY Manager: one refusal, then no
    # more polling until the user signs in again, pushes or not.
    sim.client_secret = "rotated-secret"
    rotated = await run.phase("client secret rotated", 4, sim.revoke_tokens)
    assert [a.status for a in rotated] == [401, 401]  # the API, then the token
    await reauthenticate(hass, {"client_secret": "rotated-secret", "api_key": KEY})
    await settle(hass, ready)
    assert entry.state is ConfigEntryState.LOADED
    # The subscription the old secret could not delete is replaced, not left.
    assert [s.status for s in sim.subscriptions.values()] == ["Active"]

    # READY is down for a day, pushes included; then it pushes the backlog,
    # which we refuse once (a key changed too early) and take on redelivery.
    run.every_step = None
    down = await run.phase("down for a day", 24, fault(ReadyFault.SERVER_ERROR))
    assert state(hass, WATER_VOLUME) == STATE_UNAVAILABLE
    await run.phase("back after the day", 1, fault(ReadyFault.NONE))
    assert state(hass, WATER_VOLUME) != STATE_UNAVAILABLE
    sim.api_key = "a-key-not-yet-entered"
    backlog = await sim.push_readings(hours=26)
    await settle(hass, ready)
    sim.api_key = KEY
    assert await sim.redeliver() == 1
    await settle(hass, ready)
    delivered = [d.status for d in sim.deliveries if d.delivery_id == backlog]
    assert delivered == [401, 200]
    run.every_step = push_every_other_hour
    await run.phase("normal again", 6)
    await sim.push_readings()
    await settle(hass, ready)

    # One error line each time the entities went unavailable: a push brings
    # them back, so a poll failing after it is a change of its own.
    failures = errors(caplog)
    messages = [r.getMessage() for r in failures]
    assert len(failures) == run.seen.lost, messages
    assert sum("Authentication failed" in m for m in messages) == 1

    series = ready_statistics(ready)
    rows = await assert_statistics_complete(hass, series, started, 30)
    kinds = Counter(request_kind(a.path) for a in sim.answers)
    run.report(
        f"READY: {hours_since_backfill(started, 0)} simulated hours, pushes"
        " every other hour, polled an hour after the last push or poll",
        failed_answers_by_phase=dict(run.faults),
        requests_by_kind=dict(kinds),
        answered_429=limited,
        requests_while_down_for_a_day=len(down),
        tokens_issued=sim.tokens_issued,
        deliveries=dict(Counter(f"{d.kind} {d.status}" for d in sim.deliveries)),
        unavailable_transitions=run.seen.lost,
        error_lines=len(failures),
        statistics=f"{len(series)} series x {rows} hours",
    )
