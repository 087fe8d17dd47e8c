"""Print what scripts/develop needs on top of a `homeassistant` package.

Run with the Python of the venv that has that Home Assistant installed
(scripts/ha-venv does): prints, one a line, the pinned requirements of the
integrations scripts/develop's Home Assistant sets up (bootstrap's default ones,
those in its configuration.yaml, this integration's dependencies, and all their
dependencies), of the TOTP multi-factor module, and of this integration. These
are the pins in that version's manifests, so Home Assistant finds them satisfied
and installs nothing itself at start-up; its frontend comes with them.

The voice packages whose pins have no cp314 wheels (scripts/develop starts hass
with --skip-pip-packages for them) get the abi3 pins of requirements_develop.txt.
"""

import json
from pathlib import Path
import re

import homeassistant
from homeassistant import bootstrap
from homeassistant.auth.mfa_modules import totp

REPO = Path(__file__).resolve().parent.parent
COMPONENTS = Path(homeassistant.__file__).parent / "components"
OURS = REPO / "custom_components" / "smart_meter_cloud" / "manifest.json"
# What scripts/develop's configuration.yaml lists (tests/stack/prepare.py).
CONFIGURED = {
    "frontend", "config", "diagnostics", "energy", "history", "logbook",
    "recorder", "search", "system_health", "webhook", "automation", "script",
    "scene",
}  # fmt: skip
ABI3_WHEELS = {"pymicro-vad", "pyspeex-noise"}


def _name(requirement: str) -> str:
    match = re.match(r"[A-Za-z0-9._-]+", requirement)
    assert match, requirement
    return match.group(0).lower().replace("_", "-")


def main() -> None:
    """Print the requirements."""
    ours = json.loads(OURS.read_text(encoding="utf-8"))
    requirements = set(totp.REQUIREMENTS) | set(ours.get("requirements", []))
    todo = set(bootstrap.DEFAULT_INTEGRATIONS) | CONFIGURED
    todo |= set(ours.get("dependencies", []))
    seen: set[str] = set()
    while todo:
        domain = todo.pop()
        if domain in seen:
            continue
        seen.add(domain)
        path = COMPONENTS / domain / "manifest.json"
        if not path.exists():
            continue
        manifest = json.loads(path.read_text(encoding="utf-8"))
        requirements.update(manifest.get("requirements", []))
        todo.update(manifest.get("dependencies", []))
    abi3 = {}
    for line in (REPO / "requirements_develop.txt").read_text("utf-8").splitlines():
        if (line := line.split("#", 1)[0].strip()) and _name(line) in ABI3_WHEELS:
            abi3[_name(line)] = line
    for requirement in sorted(requirements, key=str.lower):
        print(abi3.get(_name(requirement), requirement))


if __name__ == "__main__":
    main()
