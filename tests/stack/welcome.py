"""Once Home Assistant answers: the demo user, where to click, running.env."""

import json
import os
from pathlib import Path
import shlex
from urllib.error import HTTPError
from urllib.parse import urlencode
from urllib.request import Request, urlopen

from tests.stack import HA_HOST, Options

DEMO_NAME = "Demo"
DEMO_USER = "demo"
DEMO_PASSWORD = "demo-password"

STALE_TOKENS = """
  The inexogy simulator does not know the tokens of {titles}
  (they predate {state}), so Home Assistant asks to sign in again:
  Settings → Devices & services → Smart Meter Cloud "Reconfigure" → inexogy
  password demo-password. Restarts keep the new tokens."""
INSTRUCTIONS = """
  Home Assistant is running: {ha_url}   (started in {seconds}s)
    log in as  {user} / {password}

  Add the simulated inexogy account:
    Settings → Devices & services → Add integration → "Smart Meter Cloud" → inexogy
      E-mail    demo@example.com
      Password  demo-password
      Advanced (click to open) → API URL  {inexogy}/public/v1
    Its two-way electricity meter (…3456) has appliances (inexogy's
    disaggregation): a "today" sensor each, an hourly statistic each for
    Settings → Dashboards → Energy → Individual electrical devices, and
    their runs in the meter's logbook. The simulator's switches:
    python -m tests.simulator.inexogy --help

  Add the simulated Kamstrup READY tenant (five meters):
    … Add integration → "Smart Meter Cloud" → Kamstrup READY API Access
      Region         Custom
      Tenant ID      {tenant}
      Client ID      {client}
      Client secret  {secret}
      API key        {key}
      Advanced (click to open) →
        API URL    {ready}
        Token URL  {ready}/{tenant}/oauth2/v2.0/token
    READY pushes every {push_every}s to {ha_url} (the external URL). Its readings
    are hourly, as the real cloud's: values change on the hour; the water
    meter's leak alarm toggles every 5th push.

  Logs: {ha_log}, {dev}/*-simulator.log
  After changing the code: Settings → ⋮ (top right) → Restart Home Assistant.
  Ctrl-C stops Home Assistant and the simulators.
"""


def onboard(url: str) -> bool:
    """Create the demo user if there is none yet; whether it did (blocks)."""
    client_id = f"{url}/"
    try:
        with urlopen(f"{url}/api/onboarding", timeout=10) as response:
            steps = json.load(response)
    except HTTPError as err:
        if err.code == 404:  # onboarding finished: the view is gone
            return False
        raise
    if any(step["step"] == "user" and step["done"] for step in steps):
        return False
    body = {
        "client_id": client_id,
        "name": DEMO_NAME,
        "username": DEMO_USER,
        "password": DEMO_PASSWORD,
        "language": "en",
    }
    request = Request(
        f"{url}/api/onboarding/users",
        json.dumps(body).encode(),
        {"Content-Type": "application/json"},
    )
    with urlopen(request, timeout=30) as response:
        code = json.load(response)["auth_code"]
    form = {"grant_type": "authorization_code", "code": code, "client_id": client_id}
    token_request = Request(f"{url}/auth/token", urlencode(form).encode())
    with urlopen(token_request, timeout=10) as response:
        json.load(response)["access_token"]  # the login works
    return True


def stale_inexogy_entries(options: Options) -> list[str]:
    """Titles of the simulator's entries with tokens it never issued."""
    entries_path = options.config / ".storage" / "core.config_entries"
    simulator_url = f"http://{HA_HOST}:{options.inexogy_port}/"
    try:
        entries = json.loads(entries_path.read_text(encoding="utf-8"))
        try:
            state = json.loads(options.inexogy_state.read_text(encoding="utf-8"))
            issued = state.get("access_tokens", {})
        except FileNotFoundError:
            issued = {}
        return [
            str(entry.get("title", "?"))
            for entry in entries["data"]["entries"]
            if entry.get("domain") == "smart_meter_cloud"
            and (data := entry.get("data", {})).get("provider") == "inexogy"
            and str(data.get("base_url", "")).startswith(simulator_url)
            and data.get("access_token") not in issued
        ]
    except OSError, ValueError, LookupError, TypeError, AttributeError:
        return []  # only a hint: nothing to tell without these files


def print_instructions(options: Options, seconds: int) -> None:
    """Where Home Assistant is, and how to add the simulated clouds."""
    from tests.simulator import ready  # only now: it imports aiohttp

    if stale := stale_inexogy_entries(options):
        print(STALE_TOKENS.format(titles=",".join(stale), state=options.inexogy_state))
    instructions = INSTRUCTIONS.format(
        ha_url=options.ha_url,
        seconds=seconds,
        user=DEMO_USER,
        password=DEMO_PASSWORD,
        inexogy=f"http://{HA_HOST}:{options.inexogy_port}",
        ready=f"http://{HA_HOST}:{options.ready_port}",
        tenant=ready.DEMO_TENANT_ID,
        client=ready.DEMO_CLIENT_ID,
        secret=ready.DEMO_CLIENT_SECRET,
        key=ready.DEMO_API_KEY,
        push_every=options.push_every,
        ha_log=options.ha_log,
        dev=options.dev,
    )
    print(instructions, flush=True)


def write_running_env(options: Options, path: Path) -> None:
    """The addresses in shell syntax, for scripts/e2e and the browser tests."""
    values = {
        "DEVELOP_PID": str(os.getpid()),
        "HA_URL": options.ha_url,
        "HA_USER": DEMO_USER,
        "HA_PASSWORD": DEMO_PASSWORD,
        "INEXOGY_URL": f"http://{HA_HOST}:{options.inexogy_port}/public/v1",
        "READY_URL": f"http://{HA_HOST}:{options.ready_port}",
        "READY_PUSH_EVERY": options.push_every,
        "HA_LOG": str(options.ha_log),
    }
    new = path.with_name(f"{path.name}.new")  # whoever waits for it sees it whole
    new.write_text(
        "# Written by scripts/develop while it runs; removed when it stops.\n"
        + "".join(f"{key}={shlex.quote(value)}\n" for key, value in values.items()),
        encoding="utf-8",
    )
    new.replace(path)
