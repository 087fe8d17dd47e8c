"""The config flow: add, re-authorize, reconfigure and tune an inexogy account."""

from homeassistant import config_entries
from homeassistant.config_entries import ConfigEntry, ConfigEntryState, ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.translation import async_get_translations
import pytest

from custom_components.smart_meter_cloud.const import DOMAIN
from tests.simulator.inexogy import (
    ALIAS_METER_ID,
    DEMO_EMAIL,
    DEMO_PASSWORD,
    ELECTRICITY_METER_ID,
    GAS_METER_ID,
    WATER_METER_ID,
    Fault,
)

from .conftest import (
    Inexogy,
    add_inexogy_entry,
    data_schema,
    open_sections,
    start_inexogy_flow,
    state,
    suggested_values,
)

OTHER_EMAIL = "other@example.com"
OTHER_PASSWORD = "other-password"


async def test_user_flow_recovers_from_a_wrong_password(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    flow_id = await start_inexogy_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        inexogy.user_input(password="wrong"),
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": "invalid_auth"}
    # What was typed stays, the password too: a typo is fixed, not retyped,
    # and the address the user unfolded Advanced for stays in sight.
    assert suggested_values(data_schema(result)) == inexogy.user_input(password="wrong")
    assert open_sections(data_schema(result)) == {"advanced"}

    result = await hass.config_entries.flow.async_configure(
        flow_id,
        inexogy.user_input(email=f" {DEMO_EMAIL.upper()} "),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    entry = result["result"]
    assert entry.unique_id == f"inexogy_{DEMO_EMAIL}"
    # Home Assistant quotes the title in its log: no e-mail in it.
    assert entry.title == "inexogy d…@example.com"
    assert entry.data["provider"] == "inexogy"
    assert entry.data["base_url"] == inexogy.url
    assert set(entry.data) == {
        "provider",
        "email",
        "consumer_key",
        "consumer_secret",
        "access_token",
        "access_token_secret",
        "base_url",
    }  # import progress is kept in storage, not among the credentials
    assert DEMO_PASSWORD not in str(entry.data)
    await hass.async_block_till_done()
    assert entry.state is ConfigEntryState.LOADED


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.SERVER_ERROR, "cannot_connect"),
        (Fault.MALFORMED_JSON, "cannot_connect"),
        (Fault.RATE_LIMITED, "cannot_connect"),
    ],
)
async def test_user_flow_errors_from_the_cloud(
    hass: HomeAssistant, inexogy: Inexogy, fault: Fault, error: str
) -> None:
    flow_id = await start_inexogy_flow(hass)
    user_input = inexogy.user_input()
    inexogy.sim.fault = fault
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}

    inexogy.sim.fault = Fault.NONE
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_cannot_reach_the_cloud(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    await inexogy.sim.stop()
    flow_id = await start_inexogy_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        inexogy.user_input(),
    )
    assert result["errors"] == {"base": "cannot_connect"}


async def test_user_flow_no_active_meters(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    active = [m for m in inexogy.sim.meters if m.active]
    inexogy.sim.meters = [m for m in inexogy.sim.meters if not m.active]
    flow_id = await start_inexogy_flow(hass)
    user_input = inexogy.user_input()
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["errors"] == {"base": "no_meters"}

    inexogy.sim.meters.extend(active)
    result = await hass.config_entries.flow.async_configure(flow_id, user_input)
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_user_flow_unexpected_answer(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    """A meter record without an id is a bug to report, not a connection issue."""
    inexogy.sim.meters[0].data.pop("meterId")
    flow_id = await start_inexogy_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        inexogy.user_input(),
    )
    assert result["errors"] == {"base": "unknown"}


async def test_user_flow_folds_away_the_api_address(hass: HomeAssistant) -> None:
    result = await hass.config_entries.flow.async_configure(
        await start_inexogy_flow(hass), None
    )
    schema = data_schema(result).schema
    assert [str(key) for key in schema] == ["email", "password", "advanced"]
    assert schema["advanced"].options == {"collapsed": True}


async def test_one_entry_per_account(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    flow_id = await start_inexogy_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        inexogy.user_input(email=DEMO_EMAIL.upper()),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def _revoke_and_wait_for_reauth(
    hass: HomeAssistant, inexogy: Inexogy, entry: ConfigEntry
) -> ConfigFlowResult:
    inexogy.sim.revoke_tokens()
    await entry.runtime_data.coordinator.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert len(flows) == 1
    assert flows[0]["context"]["source"] == config_entries.SOURCE_REAUTH
    return flows[0]


async def test_reauth_after_the_token_is_revoked(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    old_token = inexogy_entry.data["access_token"]
    flow = await _revoke_and_wait_for_reauth(hass, inexogy, inexogy_entry)
    assert flow["step_id"] == "reauth_confirm"
    assert state(hass, "sensor.electricity_meter_3456_power") == "unavailable"

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"password": "wrong"}
    )
    assert result["errors"] == {"base": "invalid_auth"}
    assert suggested_values(data_schema(result)) == {"password": "wrong"}

    result = await hass.config_entries.flow.async_configure(
        flow["flow_id"], {"password": DEMO_PASSWORD}
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reauth_successful"
    await hass.async_block_till_done()
    assert inexogy_entry.data["access_token"] != old_token
    assert DEMO_PASSWORD not in str(inexogy_entry.data)
    assert inexogy_entry.state is ConfigEntryState.LOADED
    assert state(hass, "sensor.electricity_meter_3456_power") != "unavailable"


async def _start_reconfigure(
    hass: HomeAssistant, entry: ConfigEntry
) -> ConfigFlowResult:
    return await hass.config_entries.flow.async_init(
        DOMAIN,
        context={
            "source": config_entries.SOURCE_RECONFIGURE,
            "entry_id": entry.entry_id,
        },
    )


async def test_reconfigure(
    hass: HomeAssistant, inexogy: Inexogy, inexogy_entry: ConfigEntry
) -> None:
    inexogy.sim.accounts[OTHER_EMAIL] = OTHER_PASSWORD
    result = await _start_reconfigure(hass, inexogy_entry)
    # inexogy's own form, whose text asks for inexogy's sign-in only.
    assert result["step_id"] == "reconfigure_inexogy"
    # The stored account is filled in; no secret of it goes to the browser.
    assert suggested_values(data_schema(result)) == {
        "email": DEMO_EMAIL,
        "advanced": {"base_url": inexogy.url},
    }

    result = await hass.config_entries.flow.async_configure(
        result["flow_id"],
        inexogy.user_input(email=OTHER_EMAIL, password=OTHER_PASSWORD),
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"

    result = await _start_reconfigure(hass, inexogy_entry)
    inexogy.sim.fault = Fault.SERVER_ERROR
    user_input = inexogy.user_input()
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input
    )
    assert result["errors"] == {"base": "cannot_connect"}
    assert suggested_values(data_schema(result)) == user_input
    inexogy.sim.fault = Fault.NONE
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    await hass.async_block_till_done()
    assert inexogy_entry.state is ConfigEntryState.LOADED


async def test_options_choose_meters_and_interval(
    hass: HomeAssistant,
    inexogy: Inexogy,
    inexogy_entry: ConfigEntry,
    entity_registry: er.EntityRegistry,
) -> None:
    result = await hass.config_entries.options.async_init(inexogy_entry.entry_id)
    assert result["step_id"] == "init"

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 120, "history_days": 90, "meters": []}
    )
    assert result["errors"] == {"meters": "no_meters"}
    assert suggested_values(data_schema(result)) == {
        "scan_interval": 120,
        "history_days": 90,
        "meters": [],
        "prices": {},
        "leak": {},
    }

    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 120, "meters": [ELECTRICITY_METER_ID]}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done()
    coordinator = inexogy_entry.runtime_data.coordinator
    assert list(coordinator.meters) == [ELECTRICITY_METER_ID]
    assert coordinator.update_interval.total_seconds() == 120

    before = inexogy.sim.request_count("/last_reading")
    await coordinator.async_refresh()
    assert inexogy.sim.request_count("/last_reading") == before + 1
    # A meter left out takes its device and entities with it.
    assert (
        entity_registry.async_get_entity_id(
            "sensor", DOMAIN, f"inexogy_{GAS_METER_ID}_volume"
        )
        is None
    )


@pytest.mark.parametrize(
    ("field", "value", "error", "bound"),
    [
        ("scan_interval", 5, "scan_interval_too_short", "10"),
        ("scan_interval", 86401, "scan_interval_too_long", "86400"),
        ("history_days", 0, "history_days_too_few", "1"),
        ("history_days", 1096, "history_days_too_many", "1095"),
    ],
)
async def test_options_out_of_range_name_the_bound(
    hass: HomeAssistant,
    inexogy_entry: ConfigEntry,
    field: str,
    value: int,
    error: str,
    bound: str,
) -> None:
    """Not the selector's English "Value 5.0 is too small": a translated error."""
    result = await hass.config_entries.options.async_init(inexogy_entry.entry_id)
    user_input = {
        "scan_interval": 60,
        "history_days": 30,
        "meters": [ELECTRICITY_METER_ID],
    } | {field: value}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], user_input
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {field: error}
    # The prices and the leak rules, folded away, are empty.
    assert suggested_values(data_schema(result)) == user_input | {
        "prices": {},
        "leak": {},
    }
    # The form's boxes still tell the browser the range.
    box = next(v for k, v in data_schema(result).schema.items() if k == field)
    assert {box.config["min"], box.config["max"]} & {float(bound)}
    placeholders = result["description_placeholders"]
    assert placeholders is not None
    for language in ("en", "de", "da"):
        texts = await async_get_translations(hass, language, "options", {DOMAIN})
        text = texts[f"component.{DOMAIN}.options.error.{error}"]
        message = text.format(**placeholders)
        assert bound in message, (language, message)
    assert inexogy_entry.options == {}


def meter_labels(result: ConfigFlowResult) -> dict[str, str]:
    """The meter chooser's options: meter id -> label."""
    field = next(k for k in data_schema(result).schema if k == "meters")
    options = data_schema(result).schema[field].config["options"]
    return {option["value"]: option["label"] for option in options}


async def test_options_label_meters_as_their_devices(
    hass: HomeAssistant, inexogy: Inexogy, device_registry: dr.DeviceRegistry
) -> None:
    """In Home Assistant's language, and as renamed by the user."""
    await hass.config.async_update(language="de")
    entry = await add_inexogy_entry(hass, inexogy.url)
    gas = device_registry.async_get_device_by_identifier(
        (DOMAIN, f"inexogy_{GAS_METER_ID}"), entry.entry_id
    )
    assert gas is not None
    device_registry.async_update_device(gas.id, name_by_user="Gaszähler Keller")

    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert meter_labels(result) == {
        ELECTRICITY_METER_ID: "Stromzähler 3456",
        ALIAS_METER_ID: "Stromzähler 4567",
        GAS_METER_ID: "Gaszähler Keller",
        WATER_METER_ID: "Wasserzähler 6789",
    }
    hass.config_entries.options.async_abort(result["flow_id"])


async def test_options_without_a_loaded_entry(
    hass: HomeAssistant, inexogy: Inexogy
) -> None:
    entry = await add_inexogy_entry(hass, inexogy.url)
    await hass.config_entries.async_unload(entry.entry_id)
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert [str(key) for key in data_schema(result).schema] == [
        "scan_interval",
        "history_days",
    ]
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], {"scan_interval": 15, "history_days": 365}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert entry.options == {"scan_interval": 15, "history_days": 365}
