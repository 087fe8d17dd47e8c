"""Fixtures: Home Assistant with this integration, and the simulated clouds."""

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Iterable,
    Iterator,
)
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache, partial
import itertools
import json
import logging
import re
from typing import Any, Literal
from urllib.parse import quote, quote_plus

from aiohttp import ClientSession
from aiohttp.test_utils import BaseTestServer, TestServer
from freezegun.api import FrozenDateTimeFactory
from homeassistant import config_entries
from homeassistant.components.recorder.core import Recorder
from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlowResult
from homeassistant.core import CoreState, HomeAssistant
from homeassistant.data_entry_flow import FlowResultType, section
from homeassistant.helpers.entity import Entity
from homeassistant.helpers.recorder import get_instance
from homeassistant.loader import DATA_CUSTOM_COMPONENTS
from homeassistant.setup import async_setup_component
from homeassistant.util import dt as dt_util
import probatio as vol
import pytest
from pytest_homeassistant_custom_component.common import (
    MockConfigEntry,
    async_fire_time_changed,
    async_test_home_assistant,
)
from pytest_homeassistant_custom_component.components.diagnostics import (
    get_diagnostics_for_config_entry,
)
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)
from pytest_homeassistant_custom_component.syrupy import HomeAssistantSnapshotExtension
from pytest_homeassistant_custom_component.typing import (
    ClientSessionGenerator,
    RecorderInstanceContextManager,
)
from syrupy.assertion import SnapshotAssertion

# Imported before the `hass` fixture so that the test plugin's own
# `custom_components` package does not shadow ours.
import custom_components.smart_meter_cloud  # noqa: F401
from custom_components.smart_meter_cloud import entry as entry_setup
from custom_components.smart_meter_cloud.api.inexogy import InexogyClient
from custom_components.smart_meter_cloud.const import DOMAIN
from custom_components.smart_meter_cloud.diagnostics import (
    async_get_config_entry_diagnostics,
)
from custom_components.smart_meter_cloud.providers import PROVIDERS
from custom_components.smart_meter_cloud.providers.inexogy import (
    ID as PROVIDER_INEXOGY,
)
from custom_components.smart_meter_cloud.providers.ready import ID as PROVIDER_READY
from tests.simulator import ready as ready_sim
from tests.simulator.inexogy import (
    DEMO_EMAIL,
    DEMO_PASSWORD,
    ELECTRICITY_METER_ID,
    InexogySimulator,
)

# Loggers whose every line, debug included, is searched for secrets.
WATCHED_LOGGERS = ("custom_components.smart_meter_cloud", "oauthlib", "aiohttp")
# Entry data that is a credential or personal.
SECRET_ENTRY_KEYS = frozenset(
    {
        "email",
        "consumer_key",
        "consumer_secret",
        "access_token",
        "access_token_secret",
        "client_secret",
        "api_key",
    }
)


@dataclass
class SecretWatch:
    """What must never reach a log line or diagnostics, and where to look."""

    sources: list[Callable[[], Iterable[str]]] = field(default_factory=list)
    outputs: list[tuple[str, str]] = field(default_factory=list)

    def secrets(self) -> set[str]:
        """Return the demo data's secrets and every one handed out meanwhile."""
        found = set(_demo_secrets())
        for source in self.sources:
            found.update(source())
        return {secret for secret in found if secret}

    def add_entry(self, entry: ConfigEntry) -> None:
        """Watch for the entry's stored credentials too."""
        data = dict(entry.data)
        self.sources.append(
            lambda: [str(v) for k, v in data.items() if k in SECRET_ENTRY_KEYS]
        )


@cache
def _demo_secrets() -> frozenset[str]:
    return frozenset(
        InexogySimulator().secrets() | ready_sim.ReadySimulator().secrets()
    )


def _patterns(secret: str) -> list[re.Pattern[str]]:
    """The secret as written, URL-encoded and JSON-escaped.

    A number only counts on its own, not as part of a longer one.
    """
    spellings = {secret, quote(secret, safe=""), quote_plus(secret)}
    spellings.add(json.dumps(secret)[1:-1])
    edge = r"(?<![0-9])", r"(?![0-9])"
    return [
        re.compile(f"{edge[0]}{re.escape(s)}{edge[1]}" if s.isdigit() else re.escape(s))
        for s in spellings
    ]


def _record_text(record: logging.LogRecord) -> str:
    """Everything a log line shows: message, traceback and stack."""
    try:
        parts = [record.getMessage()]
    except TypeError, ValueError:
        parts = [str(record.msg), repr(record.args)]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    parts += [record.exc_text or "", record.stack_info or ""]
    return "\n".join(parts)


def find_leaks(
    secrets: Iterable[str], texts: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Return (where, secret shortened) for every secret found in the texts."""
    patterns = {secret: _patterns(secret) for secret in secrets}
    return [
        (where, f"{secret[:3]}…({len(secret)} characters)")
        for where, text in texts
        for secret, spelled in patterns.items()
        if any(pattern.search(text) for pattern in spelled)
    ]


@pytest.fixture(autouse=True)
def secret_watch(caplog: pytest.LogCaptureFixture) -> Iterator[SecretWatch]:
    """Fail a test in which a secret reached a log line or diagnostics.

    Our loggers, oauthlib's and aiohttp's run at debug level meanwhile, and
    their debug lines are searched as well as every other logger's info and
    above. Home Assistant's own debug lines are not: they dump registries and
    events whole, the device registry's serial numbers included.
    """
    # The test plugin's caplog turns every logger to debug; Home Assistant's
    # own debug lines are not searched, and from its threads they leaked
    # into the test output.
    caplog.set_level(logging.INFO)
    for name in WATCHED_LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    watch = SecretWatch()
    yield watch
    records = [
        record
        for when in ("setup", "call", "teardown")
        for record in caplog.get_records(when)
        if record.levelno > logging.DEBUG or record.name.startswith(WATCHED_LOGGERS)
    ]
    texts = [(f"{r.name} {r.levelname} log", _record_text(r)) for r in records]
    if leaks := find_leaks(watch.secrets(), [*texts, *watch.outputs]):
        pytest.fail(f"secrets leaked: {sorted(set(leaks))}")


@pytest.fixture
def mock_recorder_before_hass(async_test_recorder: object) -> None:
    """Prepare the recorder's database before `hass` exists (it depends on us)."""


@pytest.fixture(autouse=True)
def auto_recorder(recorder_mock: Recorder) -> None:
    """A real (in-memory) recorder: the integration imports statistics into it."""


# Days of hourly history an entry imports when first set up, in these tests:
# a month took seconds to import and to record, in every test. A test that
# needs more names them with @pytest.mark.history_days(days).
HISTORY_DAYS = 1


@pytest.fixture(autouse=True)
def history_days(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> int:
    """The days an entry without the option imports: the marker's, or one."""
    marker = request.node.get_closest_marker("history_days")
    days = HISTORY_DAYS if marker is None else int(marker.args[0])
    monkeypatch.setattr(entry_setup, "DEFAULT_HISTORY_DAYS", days)
    return days


@pytest.fixture(autouse=True)
def auto_enable_custom_integrations(enable_custom_integrations: None) -> None:
    """Let Home Assistant load this repository's integration."""


@pytest.fixture
def snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    """Snapshots that understand states, registry entries and flows."""
    return snapshot.use_extension(HomeAssistantSnapshotExtension)


@pytest.fixture
def entity_registry_enabled_by_default() -> Generator[None]:
    """Create entities that are disabled by default as enabled."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(
            Entity, "entity_registry_enabled_default", property(lambda _: True)
        )
        yield


# The test plugin logs every SQL statement; the recorder is not under test.
logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)

# Ten seconds past a whole hour: polls in a test do not cross into the next.
FROZEN_AT = "2026-11-23T12:00:10+00:00"
# Tests that push fix the clock at half past: the latest hourly reading is
# half an hour old, and the next poll is half an hour away.
HALF_PAST = "2026-11-23T12:30:00+00:00"
# The frozen day's first hour, and an hour, to name the hours of a history.
T0 = datetime(2026, 11, 23, tzinfo=UTC)
H = timedelta(hours=1)


def ready_statistic_id(meter_id: str, quantity: str) -> str:
    """The statistic a READY meter's total of a quantity becomes."""
    return f"{DOMAIN}:kamstrup_ready_{meter_id.replace('-', '_')}_{quantity}"


# The inexogy electricity meter's imported energy and READY's water volume.
IMPORT_ID = f"{DOMAIN}:inexogy_{ELECTRICITY_METER_ID}_energy_import"
WATER_ID = ready_statistic_id(ready_sim.WATER_METER_ID, "volume")


async def poll(
    hass: HomeAssistant,
    freezer: FrozenDateTimeFactory,
    seconds: float = 30,
    *,
    wait: bool = True,
) -> None:
    """Let the clock run to the next poll and (unless it hangs) wait for it."""
    freezer.tick(timedelta(seconds=seconds))
    async_fire_time_changed(hass)
    await hass.async_block_till_done(wait_background_tasks=wait)


def state(hass: HomeAssistant, entity_id: str) -> str:
    """Return an entity's state, which must exist."""
    current = hass.states.get(entity_id)
    assert current is not None, entity_id
    return current.state


def entry_state(entry: ConfigEntry) -> ConfigEntryState:
    """An entry's state now.

    For a second check after an await: the type checker takes ``entry.state``
    to be what the first check found, as if nothing could have changed it.
    """
    return entry.state


async def entry_diagnostics(
    hass: HomeAssistant, hass_client: ClientSessionGenerator, entry: ConfigEntry
) -> dict[str, Any]:
    """An entry's diagnostics as downloaded, a JSON object the test reads freely."""
    return await get_diagnostics_for_config_entry(hass, hass_client, entry)


def our_records(caplog: pytest.LogCaptureFixture, text: str) -> list[logging.LogRecord]:
    """Our log lines of info and above that contain a text."""
    return [
        r
        for r in caplog.records
        if r.name.startswith("custom_components.smart_meter_cloud")
        and r.levelno >= logging.INFO
        and text in r.getMessage()
    ]


async def statistic_rows(
    hass: HomeAssistant,
    statistic_id: str,
    columns: frozenset[Literal["change", "state", "sum"]] = frozenset({"state", "sum"}),
) -> list[dict[str, float]]:
    """Every hourly row of a statistic, once the recorder wrote what it has."""
    await async_wait_recording_done(hass)
    found = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        dt_util.utcnow() - timedelta(days=400),
        None,
        {statistic_id},
        "hour",
        None,
        set(columns),
    )
    # Home Assistant's row type allows for every column, each maybe None;
    # these hold the start and the columns asked for (a None fails where used).
    return found.get(statistic_id, [])  # type: ignore[return-value]


async def import_history(
    hass: HomeAssistant, entry_id: str, start: datetime, end: datetime
) -> None:
    """Ask the `import_history` action for an entry's hours from start to end."""
    await hass.services.async_call(
        DOMAIN,
        "import_history",
        {
            "config_entry_id": entry_id,
            "start": start.isoformat(),
            "end": end.isoformat(),
        },
        blocking=True,
    )


def assert_hourly(rows: list[dict[str, float]]) -> None:
    """One row per hour, no gap, no duplicate, never negative."""
    starts = [row["start"] for row in rows]
    assert starts == [starts[0] + i * 3600 for i in range(len(starts))]
    sums = [row["sum"] for row in rows]
    assert sums == sorted(sums)


def hours_since_backfill(started: datetime, days: int) -> int:
    """Whole hours from the backfill's first to the last one that has ended."""
    hours = dt_util.utcnow().timestamp() // 3600 - started.timestamp() // 3600
    return int(hours) + days * 24


async def assert_statistics_complete(
    hass: HomeAssistant,
    series: dict[str, Callable[[datetime], float]],
    started: datetime,
    days: int,
) -> int:
    """Every hour since the backfill's first, once, sums matching the totals.

    ``series`` maps each statistic id to the meter total it follows; the
    backfill began ``days`` before ``started``. Returns how many hours each
    holds.
    """
    hours = hours_since_backfill(started, days)
    for statistic_id, total_at in series.items():
        rows = await statistic_rows(hass, statistic_id)
        assert len(rows) == hours, statistic_id
        assert_hourly(rows)
        assert_consistent(rows)
        first = dt_util.utc_from_timestamp(rows[0]["start"])
        end = dt_util.utc_from_timestamp(rows[-1]["start"] + 3600)
        assert rows[-1]["state"] == pytest.approx(total_at(end))
        assert rows[-1]["sum"] == pytest.approx(total_at(end) - total_at(first))
        await assert_changes_add_up(hass, statistic_id, total_at(end) - total_at(first))
    return hours


async def assert_changes_add_up(
    hass: HomeAssistant, statistic_id: str, consumption: float
) -> None:
    """Read as the energy dashboard reads them: no hour, day or month below 0.

    Whatever the period, the changes add up to the meter's consumption over
    every stored hour.
    """
    await async_wait_recording_done(hass)
    for period in ("hour", "day", "month"):
        found = await get_instance(hass).async_add_executor_job(
            statistics_during_period,
            hass,
            dt_util.utcnow() - timedelta(days=3 * 365 + 62),
            None,
            {statistic_id},
            period,
            None,
            {"change"},
        )
        rows = found[statistic_id]
        changes = [change for row in rows if (change := row["change"]) is not None]
        assert len(changes) == len(rows), (period, "a row without a change")
        assert min(changes) >= -1e-6, (period, min(changes))
        assert sum(changes) == pytest.approx(consumption), period


def assert_consistent(rows: list[dict[str, float]]) -> None:
    """Each hour's consumption is the change of the meter total: no step."""
    for before, after in itertools.pairwise(rows):
        assert after["sum"] - before["sum"] == pytest.approx(
            after["state"] - before["state"], abs=1e-6
        )


@dataclass
class Inexogy:
    """A running inexogy simulator and its address."""

    sim: InexogySimulator
    url: str

    def user_input(self, **changes: Any) -> dict[str, Any]:
        """The inexogy form filled in for the simulator's demo account."""
        return {
            "email": DEMO_EMAIL,
            "password": DEMO_PASSWORD,
            "advanced": {"base_url": self.url},
        } | changes


@pytest.fixture
async def inexogy(
    hass: HomeAssistant,
    socket_enabled: None,
    frozen: FrozenDateTimeFactory,
    secret_watch: SecretWatch,
) -> AsyncIterator[Inexogy]:
    """Serve the inexogy simulator on loopback, on a clock the test moves."""
    sim = InexogySimulator()
    secret_watch.sources.append(sim.secrets)
    url = await sim.start()
    yield Inexogy(sim, url)
    await _unload_all(hass, secret_watch)
    await sim.stop()


@pytest.fixture
async def inexogy_client(inexogy: Inexogy) -> AsyncIterator[InexogyClient]:
    """Our inexogy client, signed in to the simulator's demo account."""
    async with ClientSession() as session:
        client = InexogyClient(session, base_url=inexogy.url)
        await client.authorize(DEMO_EMAIL, DEMO_PASSWORD)
        yield client


@pytest.fixture
def frozen(
    request: pytest.FixtureRequest, freezer: FrozenDateTimeFactory
) -> FrozenDateTimeFactory:
    """A frozen clock at a fixed moment, unless the test names its own."""
    if request.node.get_closest_marker("freeze_time") is None:
        freezer.move_to(FROZEN_AT)
    return freezer


async def _unload_all(hass: HomeAssistant, watch: SecretWatch) -> None:
    """Unload before the simulators and the recorder go away.

    What each entry's diagnostics show at the end is searched for secrets.
    """
    for entry in hass.config_entries.async_entries(DOMAIN):
        watch.add_entry(entry)
    for entry in hass.config_entries.async_loaded_entries(DOMAIN):
        diagnostics = await async_get_config_entry_diagnostics(hass, entry)
        text = json.dumps(diagnostics, default=str, ensure_ascii=False)
        watch.outputs.append((f"diagnostics of {entry.domain}", text))
        if hass.state is CoreState.running:  # a stopped one unloads nothing
            await hass.config_entries.async_unload(entry.entry_id)


def data_schema(result: ConfigFlowResult) -> vol.Schema:
    """The form a flow's step shows, which it must have."""
    found = result["data_schema"]
    assert found is not None, result.get("step_id")
    return found


def suggested_values(schema: vol.Schema) -> dict[str, Any]:
    """What a form shows filled in, sections as nested dicts."""
    found: dict[str, Any] = {}
    for key, value in schema.schema.items():
        if isinstance(value, section):
            found[str(key)] = suggested_values(value.schema)
        elif "suggested_value" in (getattr(key, "description", None) or {}):
            found[str(key)] = key.description["suggested_value"]
    return found


def open_sections(schema: vol.Schema) -> set[str]:
    """The sections a form shows unfolded."""
    return {
        str(key)
        for key, value in schema.schema.items()
        if isinstance(value, section) and not value.options["collapsed"]
    }


async def start_inexogy_flow(hass: HomeAssistant) -> str:
    """Open the add-integration flow, pick inexogy, return the flow id."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN,
        context={"source": config_entries.SOURCE_USER},
    )
    assert result["type"] is FlowResultType.MENU
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "inexogy"}
    )
    assert result["type"] is FlowResultType.FORM
    return result["flow_id"]


async def add_inexogy_entry(
    hass: HomeAssistant, url: str, **user_input: Any
) -> ConfigEntry:
    """Add the demo account through the config flow and wait for setup."""
    flow_id = await start_inexogy_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "advanced": {"base_url": url}}
        | user_input,
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    # Includes the first statistics import, which runs in the background.
    await hass.async_block_till_done(wait_background_tasks=True)
    entry = result["result"]
    assert isinstance(entry, config_entries.ConfigEntry)
    return entry


async def save_options(
    hass: HomeAssistant, entry: ConfigEntry, user_input: dict[str, Any]
) -> None:
    """Save the options form filled in so; wait for the entry's reload."""
    result = await hass.config_entries.options.async_init(entry.entry_id)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await hass.async_block_till_done(wait_background_tasks=True)


@pytest.fixture
async def inexogy_entry(
    hass: HomeAssistant, inexogy: Inexogy
) -> config_entries.ConfigEntry:
    """The demo inexogy account, set up."""
    return await add_inexogy_entry(hass, inexogy.url)


@dataclass
class Ready:
    """A running READY simulator, its address and Home Assistant's public one."""

    sim: ready_sim.ReadySimulator
    url: str
    ha_url: str
    server: BaseTestServer  # Home Assistant's, for READY's pushes

    def user_input(self, **changes: Any) -> dict[str, Any]:
        """The READY form filled in for the simulator's demo tenant."""
        return {
            "region": "custom",
            "tenant_id": ready_sim.DEMO_TENANT_ID,
            "client_id": ready_sim.DEMO_CLIENT_ID,
            "client_secret": ready_sim.DEMO_CLIENT_SECRET,
            "api_key": ready_sim.DEMO_API_KEY,
            "advanced": {"base_url": self.url, "token_url": self.sim.token_url},
        } | changes


@pytest.fixture
async def ready(
    hass: HomeAssistant,
    aiohttp_client: ClientSessionGenerator,
    socket_enabled: None,
    frozen: FrozenDateTimeFactory,
    secret_watch: SecretWatch,
) -> AsyncIterator[Ready]:
    """Serve the READY simulator, with Home Assistant reachable for its pushes."""
    server = await serve_webhooks(hass)
    client = await aiohttp_client(server)  # which closes it at the end
    ha_url = str(client.make_url("/")).rstrip("/")
    sim = ready_sim.ReadySimulator()
    secret_watch.sources.append(sim.secrets)
    url = await sim.start()
    yield Ready(sim, url, ha_url, server)
    await _unload_all(hass, secret_watch)
    await sim.stop()


async def serve_webhooks(hass: HomeAssistant, port: int | None = None) -> TestServer:
    """Serve Home Assistant on loopback, its address the external URL."""
    # Home Assistant's router freezes when its server starts: set up first.
    for component in ("webhook", "diagnostics"):
        assert await async_setup_component(hass, component, {})
    # No access log: it cannot format a frozen clock's local time. (The
    # runner takes it; a TestServer drops what its constructor is given.)
    server = TestServer(hass.http.app, port=port)
    await server.start_server(access_log=None)
    await hass.config.async_update(external_url=str(server.make_url("/")).rstrip("/"))
    return server


@asynccontextmanager
async def restarted(
    async_test_recorder: RecorderInstanceContextManager,
    entry: ConfigEntry,
    watch: SecretWatch,
    before_setup: Callable[[HomeAssistant], Awaitable[object]] | None = None,
) -> AsyncIterator[HomeAssistant]:
    """Home Assistant started again on the same database, the entry set up.

    ``before_setup`` runs first; when the block ends, the entry is unloaded
    and this Home Assistant stopped.
    """
    async with async_test_home_assistant() as hass:
        hass.data.pop(DATA_CUSTOM_COMPONENTS)
        async with async_test_recorder(hass):
            MockConfigEntry(
                domain=DOMAIN,
                entry_id=entry.entry_id,
                data=dict(entry.data),
                options=dict(entry.options),
                unique_id=entry.unique_id,
                title=entry.title,
            ).add_to_hass(hass)
            if before_setup is not None:
                await before_setup(hass)
            assert await async_setup_component(hass, DOMAIN, {})
            await hass.async_block_till_done(wait_background_tasks=True)
            yield hass
            await _unload_all(hass, watch)
        await hass.async_stop(force=True)


async def settle(hass: HomeAssistant, ready: Ready) -> None:
    """Let Home Assistant and the simulator finish what they started."""
    for _ in range(3):
        await hass.async_block_till_done(wait_background_tasks=True)
        await ready.sim.settle()
    await hass.async_block_till_done(wait_background_tasks=True)


async def push_next_hour(
    hass: HomeAssistant, ready: Ready, freezer: FrozenDateTimeFactory
) -> str:
    """From half past, on to ten past the next hour, whose readings READY pushes.

    Returns the push's delivery id, once Home Assistant has taken the push.
    """
    freezer.tick(timedelta(minutes=40))
    delivery = await ready.sim.push_readings()
    await settle(hass, ready)
    return delivery


async def webhook_post(
    hass: HomeAssistant,
    ready: Ready,
    body: bytes,
    *,
    signature: str | None = None,
    status: bool = False,
) -> int:
    """POST to our webhook as READY (or an impostor) would."""
    subscription = next(iter(ready.sim.subscriptions.values()))
    url = subscription.status_uri if status else subscription.webhook_uri
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Ready-Signature"] = signature
    async with (
        ClientSession() as client,
        client.post(url, data=body, headers=headers) as response,
    ):
        return response.status


def push_body(ready: Ready, readings: list[dict[str, Any]], delivery_id: str) -> bytes:
    """A MeterReadings push of these readings, as READY sends it."""
    return json.dumps(
        {
            "type": "MeterReadings",
            "subscriptionId": next(iter(ready.sim.subscriptions)),
            "deliveryId": delivery_id,
            "readings": readings,
        }
    ).encode()


async def post_signed(hass: HomeAssistant, ready: Ready, body: bytes) -> None:
    """POST a push signed as READY does; let Home Assistant take it."""
    assert await webhook_post(hass, ready, body, signature=ready.sim.sign(body)) == 200
    await settle(hass, ready)


async def push_corrected_volume(
    hass: HomeAssistant, ready: Ready, hour: datetime, change: float
) -> None:
    """READY pushes the water meter's total at an hour again, corrected by `change`."""
    reading = ready.sim.reading(ready_sim.WATER_METER_ID, hour)
    for register in reading["registers"]:
        if register["register"] == "Volume":
            register["value"] += change
    body = push_body(ready, [reading], f"correction-{hour.isoformat()}")
    await post_signed(hass, ready, body)


# READY register -> the statistic it becomes, and its units in kWh or m³.
READY_TOTALS = {
    "Volume": "volume",
    "HeatEnergy": "heat_energy",
    "CoolingEnergy": "cooling_energy",
    "Energy": "energy_import",
    "EnergyExport": "energy_export",
}
READY_UNITS = {"m3": 1.0, "kWh": 1.0, "MWh": 1000.0, "GJ": 1e6 / 3600}


def ready_statistics(ready: Ready) -> dict[str, Callable[[datetime], float]]:
    """Statistic id -> the meter total it must follow, for every meter."""
    found: dict[str, Callable[[datetime], float]] = {}
    for meter in ready.sim.meters:
        for register in meter.registers:
            quantity = READY_TOTALS.get(register.name)
            if quantity is None or (
                quantity == "volume" and meter.meter_type != "Water"
            ):
                continue  # a heat meter's volume is no statistic

            def total(at: datetime, r: ready_sim.Register = register) -> float:
                return r.value(at.timestamp()) * READY_UNITS[r.unit]

            found[ready_statistic_id(meter.meter_id, quantity)] = total
    return found


async def add_ready_entry(hass: HomeAssistant, ready: Ready) -> ConfigEntry:
    """Add the demo tenant through the config flow; wait for the handshake."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": config_entries.SOURCE_USER}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "kamstrup_ready"}
    )
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], ready.user_input()
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY, result
    await settle(hass, ready)
    entry = result["result"]
    assert isinstance(entry, ConfigEntry)
    return entry


@pytest.fixture
async def ready_entry(hass: HomeAssistant, ready: Ready) -> ConfigEntry:
    """The demo READY tenant, set up and subscribed."""
    return await add_ready_entry(hass, ready)


@dataclass
class Cloud:
    """Either cloud's simulator, for what the integration does alike for both."""

    provider: str  # as in the entry's data and the devices' identifiers
    sim: InexogySimulator | ready_sim.ReadySimulator
    add_entry: Callable[[], Awaitable[ConfigEntry]]  # the demo account's
    # Lets Home Assistant and the simulator finish what they started.
    settle: Callable[[], Awaitable[None]]

    @property
    def poll_interval(self) -> float:
        """Seconds from one poll to the next, unless the options say otherwise."""
        return PROVIDERS[self.provider].DEFAULT_INTERVAL.total_seconds()


@pytest.fixture(params=[PROVIDER_INEXOGY, PROVIDER_READY])
def cloud(request: pytest.FixtureRequest, hass: HomeAssistant) -> Cloud:
    """The inexogy simulator, then READY's, each running; no entry yet."""
    if request.param == PROVIDER_INEXOGY:
        inexogy: Inexogy = request.getfixturevalue("inexogy")
        return Cloud(
            request.param,
            inexogy.sim,
            partial(add_inexogy_entry, hass, inexogy.url),
            partial(hass.async_block_till_done, wait_background_tasks=True),
        )
    ready: Ready = request.getfixturevalue("ready")
    return Cloud(
        request.param,
        ready.sim,
        partial(add_ready_entry, hass, ready),
        partial(settle, hass, ready),
    )


@pytest.fixture
async def cloud_entry(cloud: Cloud) -> ConfigEntry:
    """The demo account of each cloud in turn, set up."""
    return await cloud.add_entry()
