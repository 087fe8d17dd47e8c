"""The command line of scripts/develop: ``python -m tests.stack [options]``."""

import asyncio
import io
import os
from pathlib import Path
import re
import sys
from typing import NoReturn

from tests.stack import DEFAULT_DIR, OWN_VENV, REPO, Options
from tests.stack.processes import Stack

USAGE = """\
Runs a real Home Assistant with this integration against the simulated clouds,
to try it in a browser. Ctrl-C (or SIGTERM/SIGHUP) stops everything, exit 0.

  scripts/develop           start (sets up .venv and .develop/ when needed)
  scripts/develop --reset   wipe .develop/ first: fresh HA config, user and data
  scripts/develop --log     also show Home Assistant's log in this terminal
  --dir DIR                 keep config, data and logs in DIR instead of .develop
  --port N                  Home Assistant's port (8123)
  --inexogy-port N          the inexogy simulator's port (8780)
  --ready-port N            the READY simulator's port (8781)
  --push-every S            seconds between READY's pushes (30)
  --ha-venv DIR             run Home Assistant from the venv DIR (.venv), for
                            another version: scripts/ha-venv VERSION builds one
The options also come from the environment: DEVELOP_DIR, DEVELOP_PORT,
DEVELOP_INEXOGY_PORT, DEVELOP_READY_PORT, DEVELOP_PUSH_EVERY,
DEVELOP_HA_VENV. Once everything
answers, DIR/running.env holds the addresses (shell syntax); it is removed on
stop.
"""


def usage_error(message: str) -> NoReturn:
    """Exit 2 with the usage."""
    print(f"scripts/develop: {message}", file=sys.stderr)
    sys.stderr.write(USAGE)
    sys.exit(2)


def parse_args(argv: list[str], caller: Path) -> Options:
    """The options; relative folders are relative to `caller`."""
    environ = os.environ
    values = {
        "--dir": environ.get("DEVELOP_DIR") or str(DEFAULT_DIR),
        "--port": environ.get("DEVELOP_PORT") or "8123",
        "--inexogy-port": environ.get("DEVELOP_INEXOGY_PORT") or "8780",
        "--ready-port": environ.get("DEVELOP_READY_PORT") or "8781",
        # The water meter's leak alarm toggles every 5th push.
        "--push-every": environ.get("DEVELOP_PUSH_EVERY") or "30",
        # Home Assistant runs from this venv; the simulators always from .venv.
        "--ha-venv": environ.get("DEVELOP_HA_VENV") or str(OWN_VENV),
    }
    flags: set[str] = set()
    args = list(argv)
    while args:
        arg = args.pop(0)
        if arg in ("--reset", "--log"):
            flags.add(arg)
        elif arg in values:
            if not args:
                usage_error(f"{arg} needs a value")
            values[arg] = args.pop(0)
        elif arg in ("-h", "--help"):
            sys.stdout.write(USAGE)
            sys.exit(0)
        else:
            usage_error(f"unknown option {arg}")
    ports = []
    for option in ("--port", "--inexogy-port", "--ready-port"):
        port = values[option]
        if not re.fullmatch("[0-9]+", port) or not 0 < int(port) < 65536:
            usage_error(f"not a port: {port}")
        ports.append(int(port))
    push_every = values["--push-every"]
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", push_every):
        usage_error(f"not a number of seconds: {push_every}")
    # The default .develop is in the repo; another relative --dir is relative
    # to where this was started.
    dev = Path(values["--dir"])
    if dev != DEFAULT_DIR:
        dev = caller / dev
    # So is a relative --ha-venv, unless it is the repo's own .venv.
    ha_venv = caller / values["--ha-venv"]
    if (
        Path(values["--ha-venv"]) == OWN_VENV
        or ha_venv.resolve() == (REPO / OWN_VENV).resolve()
    ):
        ha_venv = OWN_VENV
    return Options(
        dev=dev,
        ha_port=ports[0],
        inexogy_port=ports[1],
        ready_port=ports[2],
        push_every=push_every,
        ha_venv=ha_venv,
        reset="--reset" in flags,
        show_log="--log" in flags,
    )


def main(argv: list[str]) -> int:
    """Parse the options, then run the stack from the repository root."""
    # scripts/develop changes to the repository first and tells where from.
    caller = Path(os.environ.pop("_DEVELOP_CALLER_DIR", "") or os.getcwd())
    os.chdir(REPO)
    options = parse_args(argv, caller)
    if isinstance(sys.stdout, io.TextIOWrapper):  # a log file sees each line now
        sys.stdout.reconfigure(line_buffering=True)
    return asyncio.run(Stack(options).main())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
