"""Home Assistant with this integration against the simulated clouds.

scripts/develop runs this as ``python -m tests.stack [options]`` with .venv's
Python; ``--help`` tells the options (__main__.py). Home Assistant runs from
--ha-venv; the simulators from this interpreter, each in its own process.
config.py prepares Home Assistant's config dir, processes.py starts, watches
and stops everything.

By default Home Assistant: http://127.0.0.1:8123 (also its external URL, for
READY's webhook pushes), log in as demo / demo-password. The simulated clouds:
inexogy on :8780 (issued tokens kept in .develop/inexogy-state.json, so a
restart needs no new sign-in) and Kamstrup READY on :8781, pushing every 30 s.
Home Assistant's config lives in .develop/config (custom_components/
smart_meter_cloud is a symlink to this repo's, so code changes need only a
restart: Settings → ⋮ → Restart Home Assistant; this starts it again). Logs:
.develop/config/home-assistant.log and .develop/<simulator>-simulator.log.
"""

import asyncio
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DEFAULT_DIR = Path(".develop")  # in the repository, wherever this was started
OWN_VENV = Path(".venv")  # the simulators' and the tests'
HA_HOST = "127.0.0.1"


class Failure(Exception):
    """Something went wrong: say why, stop everything, exit 1."""


def say(message: str) -> None:
    """Tell what happens."""
    print(f"develop: {message}", flush=True)


@dataclass(frozen=True)
class Options:
    """What the command line and the DEVELOP_* variables ask for.

    Paths are relative to the repository (the working directory) or absolute.
    """

    dev: Path
    ha_port: int
    inexogy_port: int
    ready_port: int
    push_every: str  # as given: it is passed on and reported verbatim
    ha_venv: Path
    reset: bool = False
    show_log: bool = False

    @property
    def config(self) -> Path:
        """Home Assistant's config dir."""
        return self.dev / "config"

    @property
    def ha_url(self) -> str:
        """Home Assistant's address, also its external URL."""
        return f"http://{HA_HOST}:{self.ha_port}"

    @property
    def ha_log(self) -> Path:
        """Home Assistant's log file."""
        return self.config / "home-assistant.log"

    @property
    def inexogy_state(self) -> Path:
        """The tokens the inexogy simulator issued: they survive a restart."""
        return self.dev / "inexogy-state.json"

    @property
    def hass_python(self) -> str:
        """Home Assistant's Python, for what imports it."""
        return str(self.ha_venv / "bin" / "python")


async def command_output(*args: str) -> str:
    """The output of a command, which must succeed."""
    process = await asyncio.create_subprocess_exec(
        *args, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE
    )
    try:
        output, _ = await process.communicate()
    except asyncio.CancelledError:  # stopping: it must not outlive us
        process.kill()
        raise
    if process.returncode:
        raise Failure(f"{args[0]} failed (status {process.returncode})")
    return output.decode()
