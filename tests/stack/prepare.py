"""What Home Assistant needs before it starts: its packages and its config dir."""

import asyncio
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
import json
import os
from pathlib import Path
import re
import shutil
import sys
from typing import Any

from packaging.requirements import Requirement

from tests.stack import (
    DEFAULT_DIR,
    HA_HOST,
    OWN_VENV,
    REPO,
    Failure,
    Options,
    command_output,
    say,
)

DEVELOP_REQUIREMENTS = "requirements_develop.txt"
OURS = re.compile(r"^# Written by scripts/develop", re.MULTILINE)

# Every onboarding step but the user, which runs through the API once Home
# Assistant answers.
ONBOARDING = (
    '{"version": 4, "minor_version": 1, "key": "onboarding", '
    '"data": {"done": ["core_config", "analytics", "integration"]}}\n'
)
CONFIGURATION_YAML = """\
# Written by scripts/develop; `scripts/develop --reset` starts over.
# No default_config: (it pulls voice packages that cannot be built here) and no
# http: (.storage/http holds it; from YAML the UI asks to confirm it first).
homeassistant:
  name: Smart Meter Cloud development
  external_url: "@HA_URL@" # READY pushes to its webhooks here
  latitude: 51.0504
  longitude: 13.7373
  elevation: 113
  unit_system: metric
  time_zone: Europe/Berlin
  country: DE
  currency: EUR

logger:
  default: warning
  logs:
    homeassistant.bootstrap: info # "Home Assistant initialized in …"
    custom_components.smart_meter_cloud: debug

# Home Assistant also sets up its defaults (automation, person, backup, the
# entity platforms, …; homeassistant.bootstrap.DEFAULT_INTEGRATIONS). Two of
# them log an ERROR without ffmpeg and libturbojpeg installed; harmless here.
frontend:
config:
diagnostics:
energy:
history:
logbook:
recorder:
search:
system_health:
webhook:

# What the UI's automation, script and scene editors save; Home Assistant
# loads these files only when they are included here.
automation: !include automations.yaml
script: !include scripts.yaml
scene: !include scenes.yaml
"""
# Run by Home Assistant's own Python: its version's defaults of the HTTP
# settings, which the stored ones must be complete with.
HTTP_DEFAULTS = """\
import json
import sys

from homeassistant.components.http.config import (
    HTTP_STORAGE_SCHEMA,
    STORAGE_KEY,
    STORAGE_MINOR_VERSION,
    STORAGE_VERSION,
)

host, port = sys.argv[1], int(sys.argv[2])
stable = HTTP_STORAGE_SCHEMA({"server_host": [host], "server_port": port})
print(json.dumps({"version": STORAGE_VERSION, "minor_version": STORAGE_MINOR_VERSION,
                  "key": STORAGE_KEY, "stable": stable}))
"""


# ---- Python environments ----------------------------------------------------


async def prepare_venvs(options: Options) -> None:
    """Check Home Assistant's venv; complete .venv's packages when it is that."""
    ha_venv = options.ha_venv
    if ha_venv != OWN_VENV:  # another venv brings its own (scripts/ha-venv)
        if not os.access(ha_venv / "bin" / "hass", os.X_OK):
            raise Failure(
                f"{ha_venv} has no Home Assistant (bin/hass); "
                "scripts/ha-venv VERSION builds one"
            )
        return
    if not (missing := missing_requirements(Path(DEVELOP_REQUIREMENTS))):
        return
    say(f"installing into .venv: {' '.join(missing)}")
    log = Path(os.environ.get("TMPDIR") or "/tmp") / "develop-pip.log"
    with log.open("w", encoding="utf-8") as out:
        pip = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "pip", "install", "--quiet"),
            *("--disable-pip-version-check", "-r", DEVELOP_REQUIREMENTS),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=out,
            stderr=asyncio.subprocess.STDOUT,
        )
    try:
        status = await pip.wait()
    except asyncio.CancelledError:  # stopping: it must not outlive us
        pip.kill()
        raise
    if status:
        sys.stderr.write(log.read_text(encoding="utf-8", errors="replace"))
        raise Failure(f"installing {DEVELOP_REQUIREMENTS} failed")


def missing_requirements(path: Path) -> list[str]:
    """The requirements in `path` that this venv does not satisfy."""
    missing = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not (line := line.split("#", 1)[0].strip()):
            continue
        requirement = Requirement(line)
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            pass
        else:
            if requirement.specifier.contains(installed, prereleases=True):
                continue
        missing.append(str(requirement))
    return missing


# ---- Home Assistant's config dir ---------------------------------------------


async def prepare_config(options: Options) -> None:
    """Home Assistant's config dir, as complete as this run needs it."""
    dev, config = options.dev, options.config
    if options.reset and dev.exists():
        if dev != DEFAULT_DIR and not config.is_dir():
            raise Failure(
                f"--reset: {dev} has no config/, so it is not one of ours; "
                "not removing it"
            )
        say(f"--reset: removing {dev}/")
        shutil.rmtree(dev)
    yaml = config / "configuration.yaml"
    if yaml.is_file():
        await write_http_store(options)
    else:
        await write_config(options)
    set_external_url(options, yaml)
    include_ui_editor_files(options, yaml)
    link_integration(options)


async def write_config(options: Options) -> None:
    """A new config; configuration.yaml last: it marks it as complete."""
    config = options.config
    say(f"creating {config} (first run)")
    (config / ".storage").mkdir(parents=True, exist_ok=True)
    (config / "custom_components").mkdir(exist_ok=True)
    await write_http_store(options)
    (config / ".storage" / "onboarding").write_text(ONBOARDING, encoding="utf-8")
    new = config / "configuration.yaml.new"
    new.write_text(CONFIGURATION_YAML.replace("@HA_URL@", options.ha_url), "utf-8")
    new.replace(config / "configuration.yaml")


async def write_http_store(options: Options) -> None:
    """Home Assistant's HTTP settings: when missing, or for another port.

    Listening address and port as the confirmed ("stable") HTTP config, complete
    with Home Assistant's defaults (a partial one fails setup), and YAML marked
    as migrated. From configuration.yaml, the UI would ask to confirm them.
    """
    path = options.config / ".storage" / "http"
    host, port = HA_HOST, options.ha_port
    store: dict[str, Any]
    try:
        store = json.loads(path.read_text(encoding="utf-8"))
        stable = store["data"]["stable"]
        if stable.get("server_host") == [host] and stable.get("server_port") == port:
            return
        stable |= {"server_host": [host], "server_port": port}
    except FileNotFoundError:
        defaults = await command_output(
            options.hass_python, "-c", HTTP_DEFAULTS, host, str(port)
        )
        store = json.loads(defaults)
        stable = store.pop("stable") | {
            "created_at": datetime.now(UTC).isoformat(),
            "error": None,
            "error_message": None,
        }
        store["data"] = {"stable": stable, "pending": None, "yaml_migration_done": True}
    except (OSError, ValueError, LookupError, TypeError, AttributeError) as err:
        raise Failure(f"updating {path} failed: {err}") from err
    else:
        say(f"moving Home Assistant to {host}:{port}")
    path.write_text(json.dumps(store, indent=2), encoding="utf-8")


def set_external_url(options: Options, yaml: Path) -> None:
    """The external URL follows the port, unless the config is no longer ours.

    A config written before READY came in has none yet.
    """
    text = yaml.read_text(encoding="utf-8")
    external_url = f'  external_url: "{options.ha_url}"'
    if not OURS.search(text) or external_url in text:
        return
    say(f'setting external_url: "{options.ha_url}" in {yaml}')
    lines = []
    for line in text.splitlines(keepends=True):
        if line.startswith("  external_url:"):
            continue
        lines.append(line)
        if line.rstrip("\n") == "homeassistant:":
            lines.append(f"{external_url} # READY pushes to its webhooks here\n")
    yaml.write_text("".join(lines), encoding="utf-8")


def include_ui_editor_files(options: Options, yaml: Path) -> None:
    """The files the UI's editors save automations, scripts and scenes in.

    As in Home Assistant's own default configuration (automations a list). A
    configuration written here before it included them gets the includes.
    """
    for kind in ("automation", "script", "scene"):
        file = options.config / f"{kind}s.yaml"
        if not file.exists():
            file.write_text("[]\n" if kind == "automation" else "", "utf-8")
        text = yaml.read_text(encoding="utf-8")
        if OURS.search(text) and not re.search(f"^{kind}:", text, re.MULTILINE):
            say(f"including {file.name} in {yaml} (for the UI's editor)")
            with yaml.open("a", encoding="utf-8") as out:
                out.write(f"{kind}: !include {file.name}\n")


def link_integration(options: Options) -> None:
    """Home Assistant loads the integration from this repository."""
    link = options.config / "custom_components" / "smart_meter_cloud"
    if options.dev == DEFAULT_DIR:  # relative: survives moving the repository
        target = Path("../../../custom_components/smart_meter_cloud")
    else:
        target = REPO / "custom_components" / "smart_meter_cloud"
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() or link.is_file():
        link.unlink()
    if not link.is_dir():  # a real folder there is someone's copy: keep it
        link.symlink_to(target)
