"""Use the integration as a person does: through Home Assistant's web UI.

The tests run in order on one Home Assistant: (a) adds the inexogy account,
(b) the READY tenant, (c) watches a READY push on screen, (d) picks the
imported statistics in the energy settings and (e) makes an automation on the
leak alarm and sees it run, (f) sets a price for the inexogy account and
sees the costs in the energy dashboard, (g) picks the appliances of inexogy's
disaggregation as individual devices and finds them in the energy dashboard,
(h) finds the appliances' runs in the meter's activity.
"""

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, time as dt_time, timedelta
import json
import math
import re
import time
from zoneinfo import ZoneInfo

# The Home Assistant the unit tests pin: the drawer must work there.
from homeassistant.const import __version__ as PINNED_VERSION
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import SLOW_TIMEOUT_MS, TIMEOUT_MS, Stack
from tests.simulator import inexogy as inexogy_sim, ready as ready_sim
from tests.simulator.inexogy.appliances import QUARTER_MS

Shot = Callable[..., None]

INEXOGY_DEVICES = (
    "Electricity meter 3456",
    "Electricity meter 4567",
    "Gas meter 5678",
    "Water meter 6789",
)
READY_ENTRY = f"Kamstrup READY {ready_sim.DEMO_TENANT_ID[:8]}"
# The entry's title hides the e-mail address: Home Assistant logs titles.
_LOCAL, _, _DOMAIN = inexogy_sim.DEMO_EMAIL.partition("@")
INEXOGY_ENTRY = f"inexogy {_LOCAL[0]}…@{_DOMAIN}"
READY_DEVICES = (
    "Water meter 4567",
    "Heat meter 4501",
    "Heat meter 5612",
    "Cooling meter 6723",
    "Electricity meter 7834",
)
BERLIN = ZoneInfo("Europe/Berlin")  # Home Assistant's time zone


# ---- helpers -----------------------------------------------------------------
def open_add_integration(page: Page, stack: Stack, shot: Shot | None = None) -> None:
    """Add integration → search a cloud's name → our integration → the cloud menu."""
    page.goto(f"{stack.ha_url}/config/integrations/dashboard")
    page.get_by_role("button", name="Add integration").click()
    page.get_by_placeholder("Search for a brand name").fill("Kamstrup")
    brand = page.locator("dialog-add-integration").get_by_text(
        "inexogy, Kamstrup READY (Smart Meter Cloud)", exact=True
    )
    expect(brand).to_be_visible()
    if shot:
        shot("add-integration")
    brand.click()
    # Home Assistant shows a spinner ("starting configuration wizard") while it
    # loads the integration for the first time: wait for the menu itself.
    expect(page.get_by_text("Choose your metering cloud")).to_be_visible(
        timeout=SLOW_TIMEOUT_MS
    )


def entity_row(page: Page, name: str) -> Locator:
    """The row of the entity named `name` on a device page."""
    return page.locator("hui-generic-entity-row").filter(
        has=page.get_by_text(name, exact=True)
    )


def open_device(page: Page, stack: Stack, name: str) -> None:
    """Settings → Devices & services → Smart Meter Cloud → the device."""
    page.goto(f"{stack.ha_url}/config/integrations/integration/smart_meter_cloud")
    page.get_by_text(name, exact=True).click()
    expect(page.get_by_text("Device info")).to_be_visible()
    expect(page.locator("hass-subpage").get_by_text(name, exact=True)).to_be_visible()
    # The rows' icons are drawn after the rows: wait for them, for the screenshots.
    rows = page.locator("hui-generic-entity-row")
    expect(rows.first).to_be_visible()
    expect(
        page.locator("hui-generic-entity-row state-badge ha-svg-icon path")
    ).to_have_count(rows.count())


def tall_shot(page: Page, shot: Shot, name: str, height: int) -> None:
    """A screenshot of a page longer than the window, with the sidebar as long."""
    size = page.viewport_size
    assert size is not None
    page.set_viewport_size({"width": size["width"], "height": height})
    try:
        shot(name)
    finally:
        page.set_viewport_size(size)


def cards_shot(page: Page, shot: Shot, name: str, cards: Locator, height: int) -> None:
    """A screenshot of these cards alone, in a window tall enough for all."""
    size = page.viewport_size
    assert size is not None
    page.set_viewport_size({"width": size["width"], "height": height})
    try:
        count = cards.count()
        boxes = [box for i in range(count) if (box := cards.nth(i).bounding_box())]
        assert count, f"no {cards}"
        assert len(boxes) == count, f"not all {cards} are shown"
        margin = 8
        left = min(box["x"] for box in boxes) - margin
        top = min(box["y"] for box in boxes) - margin
        right = max(box["x"] + box["width"] for box in boxes) + margin
        bottom = max(box["y"] + box["height"] for box in boxes) + margin
        shot(
            name,
            clip={"x": left, "y": top, "width": right - left, "height": bottom - top},
        )
    finally:
        page.set_viewport_size(size)


def hass_state(page: Page, entity_id: str) -> tuple[str, str]:
    """The entity's state and how the frontend formats it."""
    result = page.evaluate(
        """entityId => {
          const hass = document.querySelector("home-assistant").hass;
          const state = hass.states[entityId];
          return state ? [state.state, hass.formatEntityState(state)] : null;
        }""",
        entity_id,
    )
    assert result, f"{entity_id} does not exist"
    return result[0], result[1]


def wait_until_still(page: Page, locator: Locator) -> None:
    """Until the element no longer moves from one frame to the next."""
    page.wait_for_function(
        """element => new Promise(resolve => {
             const before = element.getBoundingClientRect().x;
             requestAnimationFrame(() => requestAnimationFrame(
               () => resolve(element.getBoundingClientRect().x === before)));
           })""",
        arg=locator.element_handle(),
    )


def expect_state_shown(page: Page, entity_id: str, name: str) -> str:
    """The row shows the entity's current number; return the text.

    A number, not a positive one: the power is negative while a PV system
    exports, which the simulator's meter does around midday.

    inexogy's values move with every poll, so this compares with the state the
    frontend holds now, and looks again if a poll came in between.
    """
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while True:
        state, shown = hass_state(page, entity_id)
        assert math.isfinite(float(state)), f"{entity_id} is {state}"
        try:
            expect(entity_row(page, name)).to_contain_text(shown, timeout=3000)
        except AssertionError:
            if time.monotonic() > deadline:
                raise
        else:
            return shown


def ready_register(meter_id: str, register: str) -> list[float]:
    """The simulator's value at the last whole hour, and at the hour before.

    READY's readings are hourly; right after the hour the previous one may
    still be on screen until the next push.
    """
    meter = next(m for m in ready_sim.demo_meters() if m.meter_id == meter_id)
    reg = next(r for r in meter.registers if r.name == register)
    hour = int(time.time()) // 3600 * 3600
    return [reg.value(hour), reg.value(hour - 3600)]


def one_of(texts: Iterable[str]) -> re.Pattern[str]:
    """Match any of these texts exactly."""
    return re.compile("|".join(re.escape(text) for text in texts))


def one_of_patterns(patterns: Iterable[re.Pattern[str]]) -> re.Pattern[str]:
    """Match any of these patterns."""
    return re.compile("|".join(f"(?:{pattern.pattern})" for pattern in patterns))


def with_unit(numbers: Iterable[str], unit: str) -> re.Pattern[str]:
    """Match any of these numbers followed by the unit.

    Between the two the frontend puts a space (2026.10) or a no-break space
    (2026.11): any white space will do.
    """
    return re.compile(
        "|".join(rf"{re.escape(number)}\s{re.escape(unit)}" for number in numbers)
    )


def wait_for_dialog_history(page: Page) -> None:
    """Until the tab's history has stepped back from a dialog that closed.

    Closing a dialog steps back in the tab's history: without waiting for
    that step, it may undo (or abort) the next navigation.
    """
    page.wait_for_function("() => history.state?.dialog === undefined")


def energy_prefs(page: Page) -> str:
    """The energy dashboard's settings as Home Assistant stored them (JSON)."""
    return json.dumps(
        page.evaluate(
            """() => document.querySelector("home-assistant")
                 .hass.callWS({type: "energy/get_prefs"})"""
        )
    )


def pick_statistic(
    page: Page, picker: Locator, option: str, search: str = "smart_meter_cloud"
) -> Locator:
    """Open a statistic picker and search it for this integration's statistics.

    Its list is virtualized: a long one shows the option only if the search
    narrows it down.
    """
    picker.click()
    page.get_by_placeholder("Search", exact=True).fill(search)
    item = page.get_by_text(option, exact=True)
    expect(item).to_be_visible()
    return item


def submit_and_find_devices(
    page: Page,
    stack: Stack,
    shot: Shot,
    name: str,
    entry: str,
    devices: Iterable[str],
) -> None:
    """Submit the filled form, finish the flow, find the entry and its devices."""
    page.get_by_role("button", name="Submit").click()
    # Signing in and fetching the meters, then the dialog that places the new
    # devices in areas.
    finish = page.get_by_role("button", name="Skip and finish")
    expect(finish).to_be_visible(timeout=SLOW_TIMEOUT_MS)
    shot(f"{name}-created")
    finish.click()

    page.goto(f"{stack.ha_url}/config/integrations/integration/smart_meter_cloud")
    expect(page.get_by_text(entry, exact=True)).to_be_visible()
    for device in devices:
        expect(page.get_by_text(device, exact=True)).to_be_visible()


# ---- (a) inexogy -------------------------------------------------------------
def test_a_add_inexogy(page: Page, stack: Stack, shot: Shot) -> None:
    """A wrong password shows the translated error; the right one adds meters."""
    open_add_integration(page, stack, shot)
    shot("choose-cloud")
    page.get_by_text("inexogy (formerly Discovergy)").click()
    # The sign-in form: its fields (2026.11 also shows their descriptions,
    # which name inexogy too).
    email = page.locator("input[name=email]")
    expect(email).to_be_visible(timeout=SLOW_TIMEOUT_MS)
    email.fill(inexogy_sim.DEMO_EMAIL)
    page.locator("input[name=password]").fill("not-the-password")
    page.get_by_text("Advanced", exact=True).click()
    page.locator("input[name=base_url]").fill(stack.inexogy_url)
    shot("inexogy-form")

    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("The e-mail address or password is wrong.")).to_be_visible()
    shot("inexogy-wrong-password")

    page.locator("input[name=password]").fill(inexogy_sim.DEMO_PASSWORD)
    submit_and_find_devices(
        page, stack, shot, "inexogy", INEXOGY_ENTRY, INEXOGY_DEVICES
    )
    shot("inexogy-integration-page")

    open_device(page, stack, "Electricity meter 3456")
    for entity_id, name in (
        ("sensor.electricity_meter_3456_energy_import", "Energy import"),
        ("sensor.electricity_meter_3456_energy_export", "Energy export"),
        ("sensor.electricity_meter_3456_power", "Power"),
    ):
        expect_state_shown(page, entity_id, name)
    shot("inexogy-device")

    open_device(page, stack, "Gas meter 5678")
    shown = expect_state_shown(page, "sensor.gas_meter_5678_gas_volume", "Gas volume")
    assert re.search(r"\d\sm³$", shown), shown
    shot("inexogy-gas-meter")


# ---- (b) Kamstrup READY --------------------------------------------------------
def test_b_add_ready(page: Page, stack: Stack, shot: Shot) -> None:
    """Region Custom with the simulator's URLs: five meters with READY's values."""
    open_add_integration(page, stack)
    page.get_by_text("Kamstrup READY API Access").click()
    expect(page.locator("input[name=tenant_id]")).to_be_visible(timeout=SLOW_TIMEOUT_MS)
    page.locator("ha-select").click()
    page.get_by_role("menuitem", name="Custom").click()
    page.locator("input[name=tenant_id]").fill(ready_sim.DEMO_TENANT_ID)
    page.locator("input[name=client_id]").fill(ready_sim.DEMO_CLIENT_ID)
    page.locator("input[name=client_secret]").fill(ready_sim.DEMO_CLIENT_SECRET)
    page.locator("input[name=api_key]").fill(ready_sim.DEMO_API_KEY)
    page.get_by_text("Advanced", exact=True).click()
    page.locator("input[name=base_url]").fill(stack.ready_url)
    page.locator("input[name=token_url]").fill(
        f"{stack.ready_url}/{ready_sim.DEMO_TENANT_ID}/oauth2/v2.0/token"
    )
    tall_shot(page, shot, "ready-config-form", 1150)  # the whole form

    submit_and_find_devices(page, stack, shot, "ready", READY_ENTRY, READY_DEVICES)
    shot("integration-page")

    open_device(page, stack, "Water meter 4567")
    volumes = ready_register(ready_sim.WATER_METER_ID, "Volume")
    expect(entity_row(page, "Water volume")).to_contain_text(
        with_unit((f"{v:,.3f}" for v in volumes), "m³")
    )
    expect(entity_row(page, "Leak")).to_contain_text(one_of(["Dry", "Wet"]))
    shot("ready-water-meter")

    open_device(page, stack, "Heat meter 4501")
    # MWh and l/h as READY sends them; kWh and m³/h on screen.
    energies = ready_register(ready_sim.HEAT_METER_ID, "HeatEnergy")
    expect(entity_row(page, "Heat energy")).to_contain_text(
        with_unit((f"{v * 1000:,.0f}" for v in energies), "kWh")
    )
    flows = ready_register(ready_sim.HEAT_METER_ID, "Flow")
    expect(entity_row(page, "Flow")).to_contain_text(
        with_unit((f"{v / 1000:,.3f}" for v in flows), "m³/h")
    )
    expect(entity_row(page, "Supply voltage")).to_contain_text("OK")
    tall_shot(page, shot, "ready-heat-meter", 1480)


# ---- (c) a READY push on screen ------------------------------------------------
def test_c_ready_push_changes_value(page: Page, stack: Stack, shot: Shot) -> None:
    """The simulator flips the water meter's leak alarm every 5th push."""
    open_device(page, stack, "Water meter 4567")
    leak = entity_row(page, "Leak")
    flip = 5 * stack.push_every * 1000  # ms between two flips
    margin = 10_000
    expect(leak).to_contain_text("Dry", timeout=2 * flip + margin)
    assert hass_state(page, "binary_sensor.water_meter_4567_leak")[0] == "off"
    shot("ready-water-meter-before-push")
    expect(leak).to_contain_text("Wet", timeout=flip + margin)
    assert hass_state(page, "binary_sensor.water_meter_4567_leak")[0] == "on"
    shot("ready-water-meter-after-push")

    leak.get_by_text("Leak", exact=True).click()
    dialog = page.locator("ha-more-info-dialog")
    expect(dialog.get_by_text("Wet").first).to_be_visible()
    shot("ready-leak-alarm")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    wait_for_dialog_history(page)


# ---- (d) statistics in the energy settings -------------------------------------
def test_d_energy_statistics(page: Page, stack: Stack, shot: Shot) -> None:
    """The imported statistics are offered for grid consumption and water."""
    page.goto(f"{stack.ha_url}/config/energy")
    page.get_by_role("button", name="Add grid connection").click()
    grid = "Electricity meter 3456 Energy import"
    item = pick_statistic(page, page.locator("ha-statistic-picker").first, grid)
    expect(page.get_by_text("Electricity meter 7834 Energy import")).to_be_visible()
    shot("energy-grid-statistics")
    item.click()
    page.get_by_role("button", name="Save").click()
    settings = page.locator("ha-energy-grid-settings")
    expect(settings.get_by_text(grid, exact=True)).to_be_visible()
    wait_for_dialog_history(page)
    meter = inexogy_sim.ELECTRICITY_METER_ID
    assert f'"smart_meter_cloud:inexogy_{meter}_energy_import"' in energy_prefs(page)
    shot("energy-grid")

    # A tab in 2026.10, a link to /config/energy/water in the page's header
    # in 2026.11.
    water_tab = page.get_by_role("tab", name="Water")
    water_tab.or_(page.locator('a[href$="/config/energy/water"]')).first.click()
    page.get_by_role("button", name="Add water source").click()
    water = "Water meter 4567 Water volume"
    item = pick_statistic(page, page.locator("ha-statistic-picker").first, water)
    expect(
        page.get_by_text("Water meter 6789 Water volume", exact=True)
    ).to_be_visible()
    shot("energy-water-statistics")
    item.click()
    page.get_by_role("button", name="Save").click()
    settings = page.locator("ha-energy-water-settings")
    expect(settings.get_by_text(water, exact=True)).to_be_visible()
    wait_for_dialog_history(page)
    meter = ready_sim.WATER_METER_ID.replace("-", "_")
    assert f'"smart_meter_cloud:kamstrup_ready_{meter}_volume"' in energy_prefs(page)
    shot("energy-water")


# ---- (e) an automation on the leak alarm -----------------------------------------
def test_e_automation_on_leak(page: Page, stack: Stack, shot: Shot) -> None:
    """Made and saved in the automation editor, it runs when READY pushes a leak."""
    page.goto(f"{stack.ha_url}/config/automation/edit/new")
    page.get_by_role("button", name="Add trigger").click()
    page.get_by_placeholder("Search").fill("Water meter 4567 Leak")
    # The leak sensor, not "Leak suspected" of the same meter.
    page.get_by_text("Leak", exact=True).click()
    # Offered for the leak sensor, a moisture sensor: "when it turns on".
    page.get_by_text("Moisture detected").click()
    page.get_by_role("button", name="Add action").click()
    page.get_by_placeholder("Search").fill("persistent notification")
    page.get_by_text(
        "Persistent Notification: Create persistent notification", exact=True
    ).click()
    message = "Water meter 4567 reports a leak"
    page.locator("ha-settings-row").filter(
        has_text="Message body of the notification"
    ).get_by_role("textbox").fill(message)
    shot("automation-editor")

    page.get_by_role("button", name="Save").click()
    dialog = page.locator("ha-dialog-automation-save")
    dialog.get_by_role("textbox").fill("Leak alarm")
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    # Saved and loaded: Home Assistant has the automation.
    automation = "automation.leak_alarm"
    page.wait_for_function(
        """entityId => document.querySelector("home-assistant")
             .hass.states[entityId]?.state === "on" """,
        arg=automation,
    )
    shot("automation-saved")

    # The simulator turns the leak alarm on within two flips; it then runs.
    flip = 5 * stack.push_every * 1000  # ms between two flips
    page.wait_for_function(
        """entityId => document.querySelector("home-assistant")
             .hass.states[entityId].attributes.last_triggered""",
        arg=automation,
        timeout=2 * flip + 10_000,
    )
    # The run has started; its action then creates the notification. Open the
    # drawer once it exists.
    page.wait_for_function(
        """message => document.querySelector("home-assistant").hass
             .callWS({type: "persistent_notification/get"})
             .then(all => all.some(n => n.message === message))""",
        arg=message,
        polling=500,
    )
    # The run is proven by now. Show its notification in the drawer, as a
    # person opens it; 2026.11's drawer may stay at "No notifications" for
    # one Home Assistant holds (the check above), which is the frontend's
    # doing: then the screenshot shows that.
    page.goto(stack.ha_url)
    page.locator("ha-sidebar").wait_for()
    page.get_by_text("Notifications", exact=True).click()
    # One notification for each time the leak alarm turned on.
    notification = (
        page.locator("notification-drawer").get_by_text(message, exact=True).first
    )
    try:
        # The drawer slides in: wait until it is all in and stops.
        expect(notification).to_be_in_viewport(ratio=1, timeout=15_000)
        wait_until_still(page, notification)
    except AssertionError:
        version = page.evaluate(
            """() => document.querySelector("home-assistant").hass.config.version"""
        )
        if version == PINNED_VERSION:
            raise
        print(f"Home Assistant {version}: the drawer did not list the notification")
    shot("automation-notification")


# ---- (f) costs in the energy dashboard ---------------------------------------
def entries_loaded(page: Page) -> None:
    """Until every entry of the integration is loaded (again, after a reload)."""
    page.wait_for_function(
        """() => document.querySelector("home-assistant").hass
             .callWS({type: "config_entries/get", domain: "smart_meter_cloud"})
             .then(all => all.length > 0 && all.every(e => e.state === "loaded"))""",
        polling=500,
        timeout=SLOW_TIMEOUT_MS,
    )


def test_f_energy_costs(page: Page, stack: Stack, shot: Shot) -> None:
    """A fixed price, the earlier hours costed again, costs in the dashboard."""
    # The price, in the options of the inexogy entry: Prices is folded away.
    page.goto(f"{stack.ha_url}/config/integrations/integration/smart_meter_cloud")
    entry = page.locator("ha-config-entry-row").filter(
        has=page.get_by_text(INEXOGY_ENTRY, exact=True)
    )
    entry.get_by_role("button", name="Configure").click()
    page.get_by_text("Prices", exact=True).click()
    # The field's label is drawn in its shadow root: find the field by it.
    price = page.locator("ha-selector-number").filter(
        has_text="Electricity bought: fixed price"
    )
    price.locator("input").fill("0.30")
    shot("options-prices")
    page.get_by_role("button", name="Submit").click()
    expect(page.get_by_text("Options successfully saved")).to_be_visible(
        timeout=SLOW_TIMEOUT_MS
    )
    page.get_by_role("button", name="Finish").click()
    wait_for_dialog_history(page)
    entries_loaded(page)  # the options reload the entry

    # The price applies from this hour: cost the imported hours before it
    # too, in Developer tools → Actions. The action's account field takes the
    # entry's ID, which YAML mode shows as is.
    entry_id = page.evaluate(
        """title => document.querySelector("home-assistant").hass
             .callWS({type: "config_entries/get", domain: "smart_meter_cloud"})
             .then(all => all.find(e => e.title === title).entry_id)""",
        INEXOGY_ENTRY,
    )
    start = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%d %H:00:00+00:00")
    page.goto(f"{stack.ha_url}/config/tools/action")
    page.get_by_role("button", name="YAML mode").click()
    editor = page.locator("ha-yaml-editor .cm-content")
    editor.fill(
        "action: smart_meter_cloud.recompute_costs\n"
        f"data:\n  config_entry_id: {entry_id}\n  start: '{start}'\n"
    )
    expect(page.get_by_text("Cost hours again", exact=True)).to_be_visible()
    page.get_by_role("button", name="Perform action").click()
    meter = inexogy_sim.ELECTRICITY_METER_ID
    cost_id = f"smart_meter_cloud:inexogy_{meter}_energy_import_cost"
    page.wait_for_function(
        """statisticId => document.querySelector("home-assistant").hass
             .callWS({type: "recorder/list_statistic_ids", statistic_type: "sum"})
             .then(all => all.some(s => s.statistic_id === statisticId))""",
        arg=cost_id,
        polling=500,
    )
    expect(page.locator("ha-alert[alert-type=error]")).to_have_count(0)
    shot("recompute-costs")

    # The grid connection of (d): its costs from our cost statistic.
    page.goto(f"{stack.ha_url}/config/energy")
    grid = "Electricity meter 3456 Energy import"
    page.get_by_role("button", name="Edit grid connection").first.click()
    page.get_by_text("Use an entity tracking the total costs", exact=True).click()
    picker = page.locator("ha-statistic-picker").filter(
        has_text="Entity with the total costs"
    )
    item = pick_statistic(page, picker, f"{grid} (EUR)")
    item.click()
    # The list closes and the picker shows the statistic chosen.
    expect(picker.get_by_text(f"{grid} (EUR)", exact=True)).to_be_visible()
    expect(page.get_by_placeholder("Search", exact=True)).to_be_hidden()
    shot("energy-grid-cost")
    page.get_by_role("button", name="Save").click()
    wait_for_dialog_history(page)
    page.wait_for_function(
        """statisticId => document.querySelector("home-assistant").hass
             .callWS({type: "energy/get_prefs"})
             .then(prefs => JSON.stringify(prefs).includes(statisticId))""",
        arg=cost_id,
    )

    # The energy dashboard counts today's costs: from the first hour of the
    # day (Home Assistant's, Berlin) on, once that hour is complete.
    page.goto(f"{stack.ha_url}/energy")
    table = page.locator("hui-energy-sources-table-card")
    expect(table.get_by_text("Cost", exact=True).first).to_be_visible()
    if datetime.now(BERLIN).hour >= 1:
        expect(table).to_contain_text(re.compile(r"€\s?\d+\.\d\d"))
    # After a full load the launch screen fades out over the page: wait until
    # it is gone, for the screenshot.
    expect(page.locator("#ha-launch-screen")).to_have_count(0)
    shot("energy-costs")


# ---- (g) appliances among the individual devices ---------------------------------
DAY = timedelta(days=1)


def appliance_name(appliance: inexogy_sim.SimAppliance) -> str:
    """Its statistic's name: the meter's, its kind in English and its number."""
    kind = appliance.kind.replace("_", " ").capitalize()
    return f"Electricity meter 3456 {kind} {appliance.number}"


def day_kwh(appliance: inexogy_sim.SimAppliance, day: date) -> float:
    """Its energy on this day (Home Assistant's, Berlin) in the simulator."""
    start, end = (datetime.combine(d, dt_time(), BERLIN) for d in (day, day + DAY))
    # Its quarters from the start of the day to the start of the next.
    first, last = (int(t.timestamp()) * 1000 // QUARTER_MS for t in (start, end))
    return sum(appliance.energy(q) for q in range(first, last)) / 1e10


def day_text(day: date) -> re.Pattern[str]:
    """How the energy dashboard's period selector shows a day: Nov 30."""
    return re.compile(rf"\b{day:%b} {day.day}\b")


def day_shown(page: Page) -> date:
    """The day the energy dashboard shows at first: today or yesterday.

    Home Assistant shows yesterday in the first hour of a day.
    """
    today = datetime.now(BERLIN).date()
    selector = page.locator("hui-energy-period-selector")
    days = (today, today - DAY)
    expect(selector).to_contain_text(one_of_patterns(day_text(day) for day in days))
    return next(day for day in days if selector.get_by_text(day_text(day)).count())


def add_individual_device(page: Page, name: str, statistic_id: str) -> None:
    """Add a device in the energy settings, tracking this statistic."""
    devices = page.locator("ha-energy-device-settings")
    devices.get_by_role("button", name="Add device").click()
    dialog = page.locator("dialog-energy-device-settings")
    picker = dialog.locator("ha-statistic-picker").filter(
        has_text="Device energy consumption"
    )
    # Searched by its ID: the list holds every energy statistic of ours.
    item = pick_statistic(page, picker, name, search=statistic_id)
    item.click()
    expect(picker.get_by_text(name, exact=True)).to_be_visible()
    expect(page.get_by_placeholder("Search", exact=True)).to_be_hidden()
    # The upstream device could only be another individual device, not the
    # grid: none.
    dialog.get_by_role("button", name="Save").click()
    expect(dialog).to_be_hidden()
    expect(devices.get_by_text(name, exact=True)).to_be_visible()
    wait_for_dialog_history(page)


def test_g_individual_devices(page: Page, stack: Stack, shot: Shot) -> None:
    """The appliances of inexogy's disaggregation as individual devices."""
    meter = inexogy_sim.ELECTRICITY_METER_ID
    appliances = inexogy_sim.demo_appliances()
    page.goto(f"{stack.ha_url}/config/energy")
    expect(
        page.locator("ha-energy-device-settings").get_by_text(
            "Individual electrical devices", exact=True
        )
    ).to_be_visible()
    statistic_ids = []
    for appliance in appliances:
        statistic_id = (
            f"smart_meter_cloud:inexogy_{meter}_appliance_"
            f"{appliance.kind.lower()}_{appliance.number}"
        )
        add_individual_device(page, appliance_name(appliance), statistic_id)
        statistic_ids.append(statistic_id)
    prefs = energy_prefs(page)
    for statistic_id in statistic_ids:
        assert f'"{statistic_id}"' in prefs
    shot("energy-devices-settings")

    # The energy dashboard's Electricity view, the day before the one it
    # shows at first: a whole day of every appliance. Charts drawn at once.
    page.emulate_media(reduced_motion="reduce")
    page.goto(f"{stack.ha_url}/energy/electricity")
    selector = page.locator("hui-energy-period-selector")
    day = day_shown(page) - DAY
    selector.get_by_role("button", name="Previous").click()
    expect(selector).to_contain_text(day_text(day))
    # The chart's legend is drawn in HTML: each appliance's name, and from
    # 2026.11 on its energy of the day too. 2026.11 folds away what does not
    # fit in a few rows: found by its title, not by what shows.
    version = page.evaluate(
        """() => document.querySelector("home-assistant").hass.config.version"""
    )
    with_energy = tuple(int(part) for part in version.split(".")[:2]) >= (2026, 11)
    legend = page.locator("hui-energy-devices-detail-graph-card li")
    for appliance in appliances:
        item = legend.filter(
            has=page.locator(f'button[title="{appliance_name(appliance)}"]')
        )
        expect(item).to_have_count(1)
        if with_energy:
            kwh = day_kwh(appliance, day)
            expect(item).to_contain_text(with_unit([f"{kwh:.2f}", f"{kwh:g}"], "kWh"))
    # The other card draws its names on a canvas; it is there.
    graph = page.locator("hui-energy-devices-graph-card")
    expect(graph.get_by_text("Individual devices", exact=True)).to_be_visible()
    expect(page.locator("#ha-launch-screen")).to_have_count(0)
    cards = page.locator(
        "hui-energy-devices-detail-graph-card, hui-energy-devices-graph-card"
    )
    cards_shot(page, shot, "energy-individual-devices", cards, 2000)


# ---- (h) appliance runs on the meter's device ----------------------------------
def test_h_appliance_runs_in_the_activity(page: Page, stack: Stack, shot: Shot) -> None:
    """The appliances' runs of the last day show on their meter's device page."""
    open_device(page, stack, "Electricity meter 3456")
    activity = page.locator("ha-logbook")
    # "Refrigerator 1 ran 30 min, 0.04 kWh", at the time it ended. The list
    # draws only its first entries: the fridge runs every hour, so one of
    # its runs is always among them, whatever the time of day.
    run = re.compile(r"Refrigerator 1\s*ran (\d+ h )?\d+ min, \d+\.\d\d kWh")
    expect(activity).to_contain_text(run, timeout=SLOW_TIMEOUT_MS)
    shot("inexogy-device-activity")
