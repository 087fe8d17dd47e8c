"""The READY dev server: ``python -m tests.simulator.ready``.

Options: ``[--host H] [--port P] [--meters N] [--push-every S]``.
"""

import asyncio
from collections.abc import Iterable
import logging

from tests.simulator.server import command_line, run, serve

from .app import ReadySimulator
from .model import LEAK, MAX_METERS, MIN_METERS, WATER_METER_ID


async def _push_loop(sim: ReadySimulator, every: float) -> None:
    count = 0
    while True:
        await asyncio.sleep(every)
        count += 1
        if count % 5 == 0 and WATER_METER_ID in {m.meter_id for m in sim.meters}:
            code = sim.meter(WATER_METER_ID).info_code ^ LEAK
            await sim.push_alarms(WATER_METER_ID, code)
            print(f"water meter infoCode -> {code}", flush=True)
        again = await sim.redeliver()
        await sim.push_readings()
        active = sum(1 for s in sim.subscriptions.values() if s.status == "Active")
        if active or again:
            print(
                f"push {count}: {len(sim.meters)} meters -> {active} subscription(s),"
                f" {again} redelivered, {sim.undelivered} undelivered",
                flush=True,
            )


async def _serve(host: str, port: int, meters: int, push_every: float) -> None:
    sim = ReadySimulator(meter_count=meters)

    def banner(url: str) -> str:
        return (
            f"READY simulator on {url}\n"
            f"  token URL:     {sim.token_url}\n"
            f"  scope:         {sim.scope}\n"
            f"  tenant ID:     {sim.tenant_id}\n"
            f"  client ID:     {sim.client_id}\n"
            f"  client secret: {sim.client_secret}\n"
            f"  API key:       {sim.api_key}\n"
            f"  {len(sim.meters)} meters; pushes every {push_every:g} s. Ctrl-C stops."
        )

    async def push() -> None:
        await _push_loop(sim, push_every)

    work = push if push_every > 0 else None
    await serve(sim, host, port, "READY simulator", banner, work)


def main(argv: Iterable[str] | None = None) -> None:
    """Serve the simulator with the real clock until Ctrl-C or SIGTERM."""
    parser = command_line("Serve the fake Kamstrup READY cloud.", 8781)
    parser.add_argument("--meters", type=int, default=5, help="3..5000")
    parser.add_argument(
        "--push-every", type=float, default=60, help="seconds; 0 = never push"
    )
    args = parser.parse_args(None if argv is None else list(argv))
    if not MIN_METERS <= args.meters <= MAX_METERS:
        parser.error(f"--meters must be {MIN_METERS}..{MAX_METERS}")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    run(_serve(args.host, args.port, args.meters, args.push_every))
