"""The inexogy simulator with many meters, in a process of its own.

Benchmarks run it apart from Home Assistant so that its CPU time counts
against neither client. ``python -m tests.bench.inexogy_process METERS EPOCH``
serves METERS electricity meters (every fourth inactive) on a clock that
starts at EPOCH (seconds), prints its URL, then answers one JSON line per
command line on stdin:

- ``tick S``: move the clock on by S seconds
- ``empty 0|1``: how /last_reading answers an inactive meter (400 or empty)
- ``window exclusive|delay S``: /readings leaves out `to`, or publishes an
  hour S seconds after it ended
- ``stats``: requests per path so far, and the process's CPU seconds
"""

import asyncio
from collections import Counter
import dataclasses
import json
import os
import sys

from tests.simulator import HistoryWindow
from tests.simulator.inexogy import (
    ELECTRICITY_METER_ID,
    InexogySimulator,
    SimMeter,
)


class Clock:
    """A clock that moves only when told."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def meters(count: int) -> list[SimMeter]:
    """Electricity meters told apart by id, serial and street number."""
    template = InexogySimulator().meter(ELECTRICITY_METER_ID)
    made = []
    for index in range(count):
        serial = f"{60_000_000 + index}"
        data = template.data | {
            "meterId": f"{index:032x}",
            "serialNumber": serial,
            "fullSerialNumber": f"1ESY11{serial}",
            "location": template.data["location"] | {"streetNumber": str(index)},
        }
        if index % 4 == 3:
            data |= {"firstMeasurementTime": -1, "lastMeasurementTime": -1}
        made.append(dataclasses.replace(template, data=data))
    return made


def answer(sim: InexogySimulator, clock: Clock, line: str) -> object:
    command, _, argument = line.strip().partition(" ")
    if command == "tick":
        clock.now += float(argument)
        return clock.now
    if command == "empty":
        sim.inactive_reads_empty = argument == "1"
        return sim.inactive_reads_empty
    if command == "window":
        kind, _, value = argument.partition(" ")
        if kind == "exclusive":
            sim.window = HistoryWindow(to_exclusive=True)
        else:
            sim.window = HistoryWindow(delay=float(value))
        return repr(sim.window)
    if command == "stats":
        times = os.times()
        return {
            "requests": Counter(path for _, path, _ in sim.requests),
            "cpu": times.user + times.system,
        }
    return {"error": f"unknown command {command!r}"}


async def serve(count: int, epoch: float) -> None:
    clock = Clock(epoch)
    sim = InexogySimulator(clock)
    sim.meters = meters(count)
    url = await sim.start()
    print(url, flush=True)
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def on_input() -> None:
        line = sys.stdin.readline()
        if not line:
            done.set()
            return
        print(json.dumps(answer(sim, clock, line)), flush=True)

    loop.add_reader(sys.stdin.fileno(), on_input)
    await done.wait()
    await sim.stop()


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2])))
