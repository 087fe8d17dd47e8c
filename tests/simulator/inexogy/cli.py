"""The inexogy dev server: ``python -m tests.simulator.inexogy``.

Options: ``[--host H] [--port P] [--state FILE]`` (``--state`` keeps issued
tokens across restarts; tests keep them in memory), and how the appliance
endpoints answer what the documentation leaves open (``--help``).
"""

import argparse
from collections.abc import Iterable
import contextlib
from dataclasses import asdict
import json
from pathlib import Path

from aiohttp import web

from tests.simulator.server import command_line, run, serve

from .app import InexogySimulator
from .appliances import Missing
from .model import DEMO_EMAIL, DEMO_PASSWORD, ELECTRICITY_METER_ID, _Token


class _SavedStateSimulator(InexogySimulator):
    """The dev server's simulator: issued consumers and access tokens persist.

    Kept in a JSON file (written after every issue), so a client that stored
    its OAuth credentials stays signed in across restarts of the server.
    """

    def __init__(self, path: Path) -> None:
        super().__init__()
        self.state_path = path
        with contextlib.suppress(FileNotFoundError):
            state = json.loads(path.read_text(encoding="utf-8"))
            self._consumers.update(state.get("consumers", {}))
            self._access_tokens.update(
                {k: _Token(**v) for k, v in state.get("access_tokens", {}).items()}
            )

    def _save(self) -> None:
        state = {
            "consumers": self._consumers,
            "access_tokens": {k: asdict(v) for k, v in self._access_tokens.items()},
        }
        self.state_path.parent.mkdir(parents=True, exist_ok=True)
        partial = self.state_path.with_name(self.state_path.name + ".partial")
        partial.write_text(json.dumps(state, indent=1), encoding="utf-8")
        partial.replace(self.state_path)

    async def _consumer_token(self, request: web.Request) -> web.Response:
        response = await super()._consumer_token(request)
        self._save()
        return response

    async def _access_token(self, request: web.Request) -> web.Response:
        response = await super()._access_token(request)
        self._save()
        return response


async def _serve(host: str, port: int, args: argparse.Namespace) -> None:
    state: Path | None = args.state
    sim = InexogySimulator() if state is None else _SavedStateSimulator(state)
    sim.missing_appliances = Missing(args.appliances_missing)
    sim.german_appliances = args.appliances_german
    sim.appliance_delay_hours = args.appliances_delay
    sim.appliance_to_exclusive = args.appliances_to_exclusive
    if args.no_appliances:
        sim.appliances.clear()
    kept = [] if state is None else [f"  issued tokens are kept in {state}"]

    def banner(url: str) -> str:
        return "\n".join(
            [
                f"inexogy simulator on {url}",
                *kept,
                f"  e-mail:   {DEMO_EMAIL}",
                f"  password: {DEMO_PASSWORD}",
                "  Ctrl-C stops.",
            ]
        )

    await serve(sim, host, port, "inexogy simulator", banner)


def main(argv: Iterable[str] | None = None) -> None:
    """Serve the simulator with the real clock until Ctrl-C or SIGTERM."""
    parser = command_line("Serve the fake inexogy cloud.", 8780)
    parser.add_argument(
        "--state",
        type=Path,
        metavar="FILE",
        help="keep issued consumer and access tokens in this JSON file, so "
        "clients stay signed in across restarts (default: in memory only)",
    )
    parser.add_argument(
        "--no-appliances",
        action="store_true",
        help=f"no disaggregation at all (default: meter {ELECTRICITY_METER_ID[:8]}… "
        "has a base load, a fridge, a heat pump, a washing machine and a "
        "dishwasher)",
    )
    parser.add_argument(
        "--appliances-missing",
        choices=[m.value for m in Missing],
        default=Missing.EMPTY.value,
        help="what a meter without disaggregation answers: an empty list, "
        "404 or 400 (default: empty)",
    )
    parser.add_argument(
        "--appliances-german",
        action="store_true",
        help="key /disaggregation by German names, as its 2020 example",
    )
    parser.add_argument(
        "--appliances-delay",
        type=float,
        default=0.0,
        metavar="HOURS",
        help="publish quarters and runs this many hours late (default: 0)",
    )
    parser.add_argument(
        "--appliances-to-exclusive",
        action="store_true",
        help="leave `to` itself out of /disaggregation and /activities",
    )
    args = parser.parse_args(None if argv is None else list(argv))
    run(_serve(args.host, args.port, args))
