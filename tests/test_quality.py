"""Quality-scale rules that the files and the code can be checked against.

Each test reads the integration's files or parses its code, so that a missing
translation, a stray Home Assistant import in the client or a bare
ConfigEntry fails here rather than in front of a user.
"""

import ast
from collections.abc import Iterator, Mapping
import importlib
import json
from pathlib import Path
import re
import string
import struct
import subprocess
import sys
import tomllib
from typing import Any

from awesomeversion import AwesomeVersion, AwesomeVersionStrategy
from homeassistant.components import binary_sensor as binary_sensor_component
from homeassistant.components.brands.const import ALLOWED_IMAGES
from homeassistant.components.sensor import SensorEntityDescription
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import SelectSelector
from homeassistant.setup import async_setup_component
import probatio as vol
import pytest
import yaml

import custom_components.smart_meter_cloud as integration
from custom_components.smart_meter_cloud import (
    binary_sensor,
    config_flow,
    errors,
    leaks,
    sensor,
)
from custom_components.smart_meter_cloud.api.models import Medium
from custom_components.smart_meter_cloud.const import DOMAIN, PLATFORMS
from custom_components.smart_meter_cloud.providers import PROVIDERS
from custom_components.smart_meter_cloud.quantities import QUANTITIES, TARIFFS

PACKAGE = Path(integration.__file__).parent
ROOT = PACKAGE.parent.parent
LANGUAGES = ("en", "de", "da")
# What Home Assistant turns into a translated message, and must be told one.
TRANSLATED_EXCEPTIONS = frozenset(
    {
        "ConfigEntryAuthFailed",
        "ConfigEntryError",
        "ConfigEntryNotReady",
        "HomeAssistantError",
        "ServiceValidationError",
        "UpdateFailed",
    }
)


def _json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PACKAGE / name).read_text(encoding="utf-8"))
    return data


def _translations(language: str) -> dict[str, Any]:
    return _json(f"translations/{language}.json")


EN = _translations("en")


def _leaves(
    tree: Mapping[str, Any], path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], Any]]:
    for key, value in tree.items():
        if isinstance(value, Mapping):
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key), value


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), str(path))


def _tree(module: object) -> ast.Module:
    return ast.parse(Path(str(getattr(module, "__file__", ""))).read_text("utf-8"))


def _name(node: ast.expr) -> str | None:
    """The called or referenced name: `x` of `x(...)` and of `a.b.x(...)`."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _text(constant: ast.Constant) -> str:
    """A constant that must be a string, as every translation key is."""
    assert isinstance(constant.value, str), ast.unparse(constant)
    return constant.value


def _class(tree: ast.Module, name: str) -> ast.ClassDef:
    return next(
        node
        for node in tree.body
        if isinstance(node, ast.ClassDef) and node.name == name
    )


def _steps(cls: ast.ClassDef) -> set[str]:
    return {
        node.name.removeprefix("async_step_")
        for node in cls.body
        if isinstance(node, ast.AsyncFunctionDef)
        and node.name.startswith("async_step_")
    }


# Each cloud's own steps, named after it (the flow's __getattr__).
PROVIDER_STEPS = {
    step for provider in PROVIDERS for step in (provider, f"reconfigure_{provider}")
}


def _sensor_descriptions() -> list[SensorEntityDescription]:
    """Every sensor a meter of any medium can have, an appliance's too."""
    return [
        *(
            sensor.quantity_sensor(quantity, medium)
            for quantity, info in QUANTITIES.items()
            for medium in info.media
        ),
        *sensor.POWER_PARTS,
        *sensor.READING_SENSORS,
        *sensor.LEAK_SENSORS,
        sensor.APPLIANCE_SENSOR,
    ]


# --- manifest and packaging ---------------------------------------------------------


def test_manifest_is_ordered_and_complete() -> None:
    manifest = _json("manifest.json")
    keys = list(manifest)
    # hassfest: domain and name first, then the rest alphabetically.
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == DOMAIN
    assert {
        "codeowners",
        "config_flow",
        "dependencies",
        "documentation",
        "integration_type",
        "iot_class",
        "issue_tracker",
        "requirements",
        "version",
    } <= manifest.keys()
    assert manifest["config_flow"] is True
    assert manifest["documentation"].startswith("https://")
    assert manifest["issue_tracker"].startswith("https://")
    assert {"recorder", "webhook"} <= set(manifest["dependencies"])
    assert "cloud" in manifest["after_dependencies"]
    assert manifest["iot_class"] in {"cloud_polling", "cloud_push"}
    assert manifest["integration_type"] in {"hub", "service", "device"}
    # Home Assistant refuses a custom integration whose version it cannot read.
    AwesomeVersion(
        manifest["version"],
        ensure_strategy=[
            AwesomeVersionStrategy.CALVER,
            AwesomeVersionStrategy.SEMVER,
            AwesomeVersionStrategy.SIMPLEVER,
            AwesomeVersionStrategy.BUILDVER,
            AwesomeVersionStrategy.PEP440,
        ],
    )
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    assert manifest["version"] == project["project"]["version"]
    hacs = json.loads((ROOT / "hacs.json").read_text("utf-8"))
    assert hacs["name"] == manifest["name"]


# Add integration's search (Home Assistant 2026.10's frontend) is Fuse.js over
# the name and the domain with threshold 0.2 and Fuse's defaults location 0 and
# distance 100: an exact match scores its start / 100, so a word is found only
# when it starts within the first 20 characters of the name.
FOUND_WITHIN = 20


@pytest.mark.parametrize("word", ["inexogy", "Kamstrup", "READY"])
def test_add_integration_finds_each_cloud_by_name(word: str) -> None:
    name = _json("manifest.json")["name"]
    assert 0 <= name.casefold().find(word.casefold()) <= FOUND_WITHIN
    # The project's own name stays in it (and the domain finds it as well).
    assert "Smart Meter Cloud" in name


# hacs.json: HACS refuses any key its schema does not know, and needs a name.
HACS_KEYS = frozenset(
    {
        "content_in_root",
        "country",
        "filename",
        "hacs",
        "hide_default_branch",
        "homeassistant",
        "persistent_directory",
        "render_readme",
        "zip_release",
        "name",
    }
)


def test_hacs_json_has_only_the_keys_hacs_knows() -> None:
    hacs = json.loads((ROOT / "hacs.json").read_text("utf-8"))
    assert "name" in hacs
    assert hacs.keys() <= HACS_KEYS
    assert hacs.get("content_in_root", False) is False
    assert AwesomeVersion(hacs["homeassistant"]).valid
    if hacs.get("zip_release"):
        # HACS fails a zip release without the name of the zip.
        assert hacs["filename"] == f"{DOMAIN}.zip"
    # HACS's own manifest check: these, and a version it can read.
    manifest = _json("manifest.json")
    assert {
        "codeowners",
        "documentation",
        "domain",
        "issue_tracker",
        "name",
        "version",
    } <= manifest.keys()


def test_repository_carries_a_license() -> None:
    text = (ROOT / "LICENSE").read_text("utf-8")
    assert text.startswith("MIT License")
    assert "Copyright (c) 2026 Smart Meter Cloud contributors" in text


def _png_size(name: str) -> tuple[int, int]:
    header = (PACKAGE / "brand" / name).read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", name
    width, height = struct.unpack(">II", header[16:24])
    return width, height


@pytest.mark.parametrize("prefix", ["", "dark_"])
def test_brand_images_have_their_size(prefix: str) -> None:
    """The sizes Home Assistant's brands repository asks for, light and dark."""
    assert _png_size(f"{prefix}icon.png") == (256, 256)
    assert _png_size(f"{prefix}icon@2x.png") == (512, 512)
    width, height = _png_size(f"{prefix}logo.png")
    assert 128 <= min(width, height) <= 256
    assert _png_size(f"{prefix}logo@2x.png") == (2 * width, 2 * height)


def test_brand_holds_every_image_home_assistant_serves() -> None:
    """All of them, so that none falls back to the icon or the light logo."""
    assert {path.name for path in (PACKAGE / "brand").iterdir()} == ALLOWED_IMAGES


def _workflow(name: str) -> dict[Any, Any]:
    data: dict[Any, Any] = yaml.safe_load(
        (ROOT / ".github" / "workflows" / name).read_text("utf-8")
    )
    return data


def _uses(workflow: Mapping[Any, Any]) -> set[str]:
    return {
        step["uses"]
        for job in workflow["jobs"].values()
        for step in job["steps"]
        if "uses" in step
    }


def test_workflows_validate_test_and_release() -> None:
    # YAML reads a bare `on` as True.
    validate = _workflow("validate.yml")
    assert {"push", "pull_request", "schedule"} <= validate[True].keys()
    assert {
        "home-assistant/actions/hassfest@master",
        "hacs/action@main",
    } <= _uses(validate)
    hacs_step = next(
        step
        for job in validate["jobs"].values()
        for step in job["steps"]
        if step.get("uses") == "hacs/action@main"
    )
    assert hacs_step["with"]["category"] == "integration"
    tests = _workflow("tests.yml")
    assert {"push", "pull_request"} <= tests[True].keys()
    runs = [step.get("run") for step in tests["jobs"]["test"]["steps"]]
    assert "scripts/test --all" in runs  # the slow tests too
    release = _workflow("release.yml")
    assert release[True] == {"release": {"types": ["published"]}}
    script = "\n".join(step.get("run", "") for step in release["jobs"]["zip"]["steps"])
    assert "manifest.json" in script
    assert f"{DOMAIN}.zip" in script


# --- translations -------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_every_language_has_the_same_keys(language: str) -> None:
    english = {path for path, _ in _leaves(EN)}
    assert {path for path, _ in _leaves(_translations(language))} == english


@pytest.mark.parametrize("language", LANGUAGES)
def test_translations_are_literal(language: str) -> None:
    english = dict(_leaves(EN))
    for path, text in _leaves(_translations(language)):
        where = ".".join(path)
        assert isinstance(text, str), where
        assert text.strip(), where
        # Custom integrations get no `[%key:...%]` references resolved.
        assert "[%key:" not in text, where
        assert _placeholders(text) == _placeholders(english[path]), where


@pytest.mark.parametrize("language", LANGUAGES[1:])
def test_translations_are_translated(language: str) -> None:
    english = dict(_leaves(EN))
    leaves = dict(_leaves(_translations(language)))
    same = [path for path, text in leaves.items() if text == english[path]]
    # Names of products and units may stay; a copied file does not pass.
    assert len(same) < len(leaves) / 10, same


def test_entities_and_devices_are_translated() -> None:
    assert set(EN["entity"]) == {platform.value for platform in PLATFORMS}
    assert set(EN["entity"]["sensor"]) == {
        d.translation_key for d in _sensor_descriptions()
    }
    assert set(EN["entity"]["binary_sensor"]) == {
        d.translation_key
        for d in (*binary_sensor.ALARMS.values(), *binary_sensor.LEAK_SENSORS)
    }
    assert all(set(e) == {"name"} for e in EN["entity"]["sensor"].values())
    # Leak suspicion says which rule fired, and since when.
    alarms = dict(EN["entity"]["binary_sensor"])
    leak = alarms.pop("leak_suspected")
    assert all(set(e) == {"name"} for e in alarms.values())
    assert set(leak["state_attributes"]) == {"rule", "since"}
    assert set(leak["state_attributes"]["rule"]["state"]) == set(leaks.Rule)
    # entity.py names a meter's device by its medium.
    assert set(EN["device"]) == {f"{medium}_meter" for medium in Medium}


@pytest.mark.parametrize("language", LANGUAGES)
def test_no_alarm_is_named_like_a_moisture_state(language: str) -> None:
    """Next to "Leak: Dry", a sensor called "Dry" reads as "no leak"."""
    core = Path(binary_sensor_component.__file__).parent / "translations"
    moisture = json.loads((core / f"{language}.json").read_text("utf-8"))[
        "entity_component"
    ]["moisture"]["state"]
    names = {
        entity["name"]
        for entity in _translations(language)["entity"]["binary_sensor"].values()
    }
    assert not names & set(moisture.values())


_OTHER_CLOUD = {
    "reconfigure_inexogy": {
        "en": ("READY", "client", "API key"),
        "de": ("READY", "Client", "API-Schlüssel"),
        "da": ("READY", "klient", "API-nøgle"),
    },
    "reconfigure_kamstrup_ready": {
        "en": ("inexogy", "password", "e-mail"),
        "de": ("inexogy", "Passwort", "E-Mail"),
        "da": ("inexogy", "adgangskode", "e-mail"),
    },
}


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("step", sorted(_OTHER_CLOUD))
def test_reconfigure_names_only_its_own_cloud(step: str, language: str) -> None:
    """Changing inexogy's sign-in asks for no client secret, and the other way."""
    translated = _translations(language)["config"]["step"][step]
    text = " ".join(str(value) for _, value in _leaves(translated)).casefold()
    for word in _OTHER_CLOUD[step][language]:
        assert word.casefold() not in text, word


def _error_keys() -> set[str]:
    """What `error_key` can answer: the constants it returns."""
    function = next(
        node
        for node in _tree(errors).body
        if isinstance(node, ast.FunctionDef) and node.name == "error_key"
    )
    return {
        node.value.value
        for node in ast.walk(function)
        if isinstance(node, ast.Return)
        and isinstance(node.value, ast.Constant)
        and isinstance(node.value.value, str)
    }


def _exception_keys() -> set[str]:
    """Every translation key an exception of ours is raised with."""
    keys: set[str] = set()
    for path, tree in _modules():
        for call in ast.walk(tree):
            if not (
                isinstance(call, ast.Call) and _name(call.func) in TRANSLATED_EXCEPTIONS
            ):
                continue
            where = f"{path.name}:{call.lineno}"
            domain, key = (
                _keyword(call, "translation_domain"),
                _keyword(call, "translation_key"),
            )
            assert isinstance(domain, ast.Name), where
            assert domain.id == "DOMAIN", where
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                keys.add(key.value)
            else:
                # The one computed key: the translation of a client error.
                assert isinstance(key, ast.Call), where
                assert _name(key.func) == "error_key", where
                keys |= _error_keys()
    return keys


def test_every_exception_a_user_sees_is_translated() -> None:
    keys = _exception_keys()
    assert keys == set(EN["exceptions"])
    assert all(set(e) == {"message"} for e in EN["exceptions"].values())


def test_config_flow_is_translated() -> None:
    tree = _tree(config_flow)
    flow = _class(tree, "SmartMeterCloudConfigFlow")
    options = _class(tree, "OptionsFlowHandler")
    # `reauth` only passes on to `reauth_confirm`, `reconfigure` to the
    # cloud's own form; every other step is shown.
    assert set(EN["config"]["step"]) == (
        _steps(flow) - {"reauth", "reconfigure"} | PROVIDER_STEPS
    )
    assert set(EN["options"]["step"]) == _steps(options)
    assert set(EN["config"]["step"]["user"]["menu_options"]) == set(PROVIDERS)

    def errors(cls: ast.ClassDef) -> set[str]:
        found = set()
        for node in ast.walk(cls):
            if isinstance(node, ast.Dict):
                found |= {
                    _text(v)
                    for k, v in zip(node.keys, node.values, strict=True)
                    if isinstance(v, ast.Constant)
                    and (
                        (isinstance(k, ast.Constant) and k.value == "base")
                        or (
                            isinstance(k, ast.Name)
                            and k.id in {"SECTION_ADVANCED", "CONF_PRICES"}
                        )
                    )
                }
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Subscript)
                and _name(node.targets[0].value) == "errors"
                and isinstance(node.value, ast.Constant)
            ):
                found.add(_text(node.value))
        return found

    def form_errors(module: Any) -> set[str]:
        """The keys of the FormErrors a cloud's validation raises."""
        return {
            _text(node.args[1])
            for node in ast.walk(_tree(module))
            if isinstance(node, ast.Call)
            and _name(node.func) == "FormError"
            and isinstance(node.args[1], ast.Constant)
        }

    from_providers = {
        key
        for module in PROVIDERS.values()
        for key in (module.INVALID_AUTH, *form_errors(module))
    }
    assert set(EN["config"]["error"]) == errors(flow) | from_providers
    assert set(EN["options"]["error"]) == errors(options)

    calls = [node for node in ast.walk(flow) if isinstance(node, ast.Call)]
    called = {_name(call.func) for call in calls}
    aborts = {
        reason.value
        for call in calls
        if isinstance(reason := _keyword(call, "reason"), ast.Constant)
    }
    if "_abort_if_unique_id_configured" in called:
        aborts.add("already_configured")
    if "async_update_reload_and_abort" in called:
        aborts |= {
            f"{step}_successful" for step in _steps(flow) & {"reauth", "reconfigure"}
        }
    assert set(EN["config"]["abort"]) == aborts


def _fields(schema: vol.Schema) -> Iterator[tuple[str, Any]]:
    for key, value in schema.schema.items():
        yield str(key), value


def _assert_form_translated(step: Mapping[str, Any], schema: vol.Schema) -> None:
    for field, value in _fields(schema):
        if isinstance(value, section):
            translated = step["sections"][field]
            assert translated["name"]
            _assert_form_translated(translated, value.schema)
        else:
            assert field in step["data"], field
            assert field in step["data_description"], field


@pytest.mark.parametrize(
    ("step", "schemas"),
    [
        *((p.ID, [p.SCHEMA]) for p in PROVIDERS.values()),
        *((f"reconfigure_{p.ID}", [p.SCHEMA]) for p in PROVIDERS.values()),
        ("reauth_confirm", [p.REAUTH_SCHEMA for p in PROVIDERS.values()]),
    ],
)
def test_every_form_field_is_labelled_and_explained(
    step: str, schemas: list[vol.Schema]
) -> None:
    for schema in schemas:
        _assert_form_translated(EN["config"]["step"][step], schema)


def test_options_fields_are_labelled_and_explained() -> None:
    options = _class(_tree(config_flow), "OptionsFlowHandler")
    fields = {
        getattr(config_flow, node.args[0].id)
        for node in ast.walk(options)
        if isinstance(node, ast.Call)
        and _name(node.func) in {"Required", "Optional"}
        and isinstance(node.args[0], ast.Name)
    }
    sections = {"prices", "leak"}
    assert fields == {"scan_interval", "history_days", "meters", *sections}
    step = EN["options"]["step"]["init"]
    assert set(step["data"]) == fields - sections
    assert set(step["data_description"]) == fields - sections
    # The prices section: a fixed price and a price entity per tariff.
    every_tariff = config_flow._prices_section(list(TARIFFS.values()), "EUR")
    _assert_form_translated(step["sections"]["prices"], every_tariff.schema)
    assert step["sections"]["prices"]["name"]
    _assert_form_translated(
        step["sections"]["leak"], config_flow._leak_section().schema
    )
    assert step["sections"]["leak"]["name"]


def test_select_options_are_translated() -> None:
    selectors = [
        value
        for schema in (p.SCHEMA for p in PROVIDERS.values())
        for _, value in _fields(schema)
        if isinstance(value, SelectSelector)
    ]
    assert selectors
    for selector in selectors:
        key = selector.config["translation_key"]
        options = set(selector.config["options"])
        assert set(EN["selector"][key]["options"]) == options


def test_repair_issues_are_translated() -> None:
    issues = set()
    for _, tree in _modules():
        for node in tree.body:
            # ISSUE_NO_URL: Final = "no_external_url"
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and node.target.id.startswith("ISSUE_")
                and isinstance(node.value, ast.Constant)
            ):
                issues.add(node.value.value)
    assert issues
    assert set(EN["issues"]) == issues
    assert all(set(i) == {"title", "description"} for i in EN["issues"].values())


def test_system_health_is_translated() -> None:
    keys = {provider.HEALTH_KEY for provider in PROVIDERS.values()}
    assert all(re.fullmatch(r"[a-z_]+_reachable", key) for key in keys)
    assert set(EN["system_health"]["info"]) == keys


@pytest.mark.parametrize(
    ("language", "readme"), [("en", "README.md"), ("de", "README.de.md")]
)
def test_troubleshooting_quotes_the_messages_as_shown(
    language: str, readme: str
) -> None:
    """A user searches the README for the words on their screen."""
    text = " ".join((ROOT / readme).read_text("utf-8").split())
    translated = _translations(language)
    errors = translated["config"]["error"]
    for key in ("invalid_auth", "invalid_client", "cannot_connect", "no_meters"):
        first_sentence = errors[key].split(". ")[0].removesuffix(".")
        assert first_sentence in text, key
    for key in ("no_external_url", "subscription_failed"):
        title = translated["issues"][key]["title"].replace("{title}", "…")
        assert title in text, key


# --- actions ------------------------------------------------------------------------


async def test_services_yaml_matches_the_registered_actions(
    hass: HomeAssistant,
) -> None:
    assert await async_setup_component(hass, DOMAIN, {})
    registered = hass.services.async_services_for_domain(DOMAIN)
    described = yaml.safe_load((PACKAGE / "services.yaml").read_text("utf-8"))
    icons = _json("icons.json")
    assert set(registered) == set(described)
    assert set(EN["services"]) == set(described)
    assert set(icons["services"]) == set(described)
    for name, action in registered.items():
        assert isinstance(action.schema, vol.Schema), name
        fields = {
            str(key): isinstance(key, vol.Required) for key in action.schema.schema
        }
        yaml_fields = described[name]["fields"]
        assert {f: bool(d.get("required")) for f, d in yaml_fields.items()} == fields
        translated = EN["services"][name]
        assert translated["name"]
        assert translated["description"]
        assert set(translated["fields"]) == set(fields)
        assert all(
            set(f) == {"name", "description"} for f in translated["fields"].values()
        )


# --- icons --------------------------------------------------------------------------


def _mdi_names() -> set[str] | None:
    """The frontend's icon names, where the frontend is installed."""
    try:
        frontend = importlib.import_module("hass_frontend")
    except ImportError:
        return None
    listing = Path(str(frontend.__path__[0])) / "static" / "mdi" / "iconList.json"
    if not listing.exists():
        return None
    return {icon["name"] for icon in json.loads(listing.read_text("utf-8"))}


def test_icons_belong_to_translated_entities() -> None:
    icons = _json("icons.json")
    assert set(icons) == {"entity", "services"}
    names = _mdi_names()
    for platform, entities in icons["entity"].items():
        assert set(entities) <= set(EN["entity"][platform]), platform
    for path, icon in _leaves(icons):
        assert path[-1] in {"default", "service", "on", "off"}, path
        assert icon.startswith("mdi:"), path
        if names is not None:
            assert icon.removeprefix("mdi:") in names, path
    for entity in icons["entity"]["binary_sensor"].values():
        assert "default" in entity


def test_icons_come_from_translations() -> None:
    icons = _json("icons.json")["entity"]
    descriptions = [*_sensor_descriptions(), *binary_sensor.ALARMS.values()]
    assert all(d.icon is None for d in descriptions)
    # What has no device class to take an icon from has its own.
    assert all(
        d.translation_key in icons["sensor"]
        for d in _sensor_descriptions()
        if d.device_class is None
    )


# --- code ---------------------------------------------------------------------------


def test_platforms_leave_updates_to_the_coordinator() -> None:
    for platform in PLATFORMS:
        module = importlib.import_module(f"{integration.__name__}.{platform.value}")
        assert module.PARALLEL_UPDATES == 0, platform


def test_config_entries_are_typed() -> None:
    """Whatever reads an entry's runtime data has it typed.

    A module that reads `runtime_data` takes every entry as a
    `SmartMeterConfigEntry`. The layers below (the coordinator, statistics,
    providers), which `runtime` imports, never read it and take a bare
    `ConfigEntry`: naming the alias there would import in a circle.
    """
    for path, tree in _modules():
        # `type SmartMeterConfigEntry = ConfigEntry[RuntimeData]` is the one
        # place that names the bare class among those that read runtime data.
        alias = {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.TypeAlias)
            and node.name.id == "SmartMeterConfigEntry"
            for inner in ast.walk(node.value)
        }
        reads_runtime = any(
            isinstance(node, ast.Attribute) and node.attr == "runtime_data"
            for node in ast.walk(tree)
        ) or path.name in {"sensor.py", "binary_sensor.py"}
        if not reads_runtime:
            continue
        for node in ast.walk(tree):
            where = f"{path.name}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Name | ast.Attribute):
                if _name(node) == "ConfigEntry":
                    assert id(node) in alias, where
            elif isinstance(node, ast.arg) and node.arg in {"entry", "config_entry"}:
                assert node.annotation is not None, where
                assert _name(node.annotation) == "SmartMeterConfigEntry", where


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _import_graph() -> dict[str, set[str]]:
    """Which of our modules each of our modules imports, anywhere in it.

    Imports inside functions and under TYPE_CHECKING count as well: a
    circle through them is still a circle. Names are relative to the
    package ("" is its __init__).
    """
    paths = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in paths}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not isinstance(node, ast.ImportFrom) or not node.level:
                continue
            parts = package.split(".") if package else []
            parts = parts[: len(parts) - (node.level - 1)]
            if node.module:
                parts += node.module.split(".")
            target = ".".join(parts)
            for alias in node.names:
                sub = f"{target}.{alias.name}".strip(".")
                graph[name].add(sub if sub in paths else target)
    return graph


def test_imports_go_one_way() -> None:
    """No module of ours imports, however indirectly, one that imports it."""
    graph = _import_graph()
    assert "providers.ready_push" in graph["providers.ready"]  # the walk works
    done: set[str] = set()

    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, " -> ".join((*path, name))
        if name in done:
            return
        for imported in graph.get(name, ()):
            if imported != name:
                visit(imported, (*path, name))
        done.add(name)

    for name in graph:
        visit(name, ())


def test_the_clients_know_nothing_of_home_assistant() -> None:
    api = PACKAGE / "api"
    for path in sorted(api.rglob("*.py")):
        # As many levels up as the module is deep in api/, and no further.
        depth = len(path.relative_to(api).parts)
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                # `from .. import x` in api/ reaches the Home Assistant side.
                assert node.level <= depth, f"{path.name}:{node.lineno}"
                modules = [node.module or ""]
            else:
                continue
            for module in modules:
                assert not module.startswith("homeassistant"), (
                    f"{path.name}:{node.lineno}"
                )


def test_the_first_form_imports_no_client() -> None:
    """The first "Add integration" imports the config flow; keep that light.

    Neither the cloud clients with oauthlib, nor what runs an entry, nor Home
    Assistant Cloud: they are imported off the event loop once needed
    (BENCHMARKS.md has the timings).
    """
    script = "import sys, {}.config_flow; print(*sys.modules)"
    imported = subprocess.run(
        [sys.executable, "-c", script.format(integration.__name__)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    heavy = {
        "oauthlib",
        "homeassistant.components.cloud",
        *(
            f"{integration.__name__}.{module}"
            for module in (
                "api.inexogy",
                "api.ready",
                "coordinator",
                "entry",
                "services",
                "providers.ready_push",
                "runtime",
                "statistics",
            )
        ),
    }
    assert not heavy.intersection(imported)
