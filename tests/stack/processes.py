"""Start the simulators and Home Assistant, keep them running, stop them."""

import asyncio
from pathlib import Path
import re
import signal
import sys
import time
from typing import NamedTuple

from tests.stack import HA_HOST, Failure, Options, command_output, say
from tests.stack.prepare import prepare_config, prepare_venvs
from tests.stack.welcome import (
    DEMO_USER,
    onboard,
    print_instructions,
    write_running_env,
)

HA_START_TIMEOUT = 300  # seconds; the first start creates the database
RESTART_EXIT_CODE = 100  # hass exits with it when the UI asks for a restart
# Their pinned versions cannot be built here; requirements_develop.txt and
# scripts/ha-venv install wheels of newer ones instead.
SKIP_PIP_PACKAGES = "pymicro-vad,pyspeex-noise"
HA_VERSION = "from homeassistant.const import __version__; print(__version__)"


class Simulator(NamedTuple):
    """A simulated cloud: `python -m MODULE --host H --port P ARGS...`."""

    name: str
    port: int
    module: str
    args: list[str]


class Stack:
    """The simulators and Home Assistant, started and stopped in order."""

    def __init__(self, options: Options) -> None:
        """Nothing runs yet: main() starts everything."""
        self.options = options
        self.running_env = options.dev / "running.env"  # once everything answers
        self.children: dict[str, asyncio.subprocess.Process] = {}
        self.stopping = False
        self.hass_started = 0.0

    def simulators(self) -> list[Simulator]:
        """The fake clouds, served on HA_HOST.

        welcome.INSTRUCTIONS has a paragraph with the demo credentials of each.
        """
        options = self.options
        return [
            Simulator(
                "inexogy",
                options.inexogy_port,
                "tests.simulator.inexogy",
                ["--state", str(options.inexogy_state)],
            ),
            Simulator(
                "ready",
                options.ready_port,
                "tests.simulator.ready",
                ["--push-every", options.push_every],
            ),
        ]

    def simulator_log(self, name: str) -> Path:
        """Where a simulator's output goes."""
        return self.options.dev / f"{name}-simulator.log"

    async def main(self) -> int:
        """Run until a signal (exit 0) or a failure (exit 1)."""
        run = asyncio.create_task(self.run())
        signalled = False

        def on_signal() -> None:
            nonlocal signalled
            if signalled or self.stopping:  # a second Ctrl-C: do not wait any longer
                self.kill_all()
                return
            signalled = True
            print(flush=True)
            say("stopping…")
            run.cancel()

        # This installs the handlers with signal.signal, which also restores
        # SIGINT when a shell started this in the background with it ignored.
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(signum, on_signal)
        status = 0
        try:
            await run
        except asyncio.CancelledError:
            if not signalled:
                raise
        except Failure as err:
            print(f"develop: {err}", file=sys.stderr, flush=True)
            status = 1
        finally:
            await self.stop_all()
        if signalled:
            say("stopped.")
        return status

    async def run(self) -> None:
        """Prepare, start everything, then keep it running."""
        options = self.options
        await prepare_venvs(options)
        await prepare_config(options)
        await self.check_ports()
        self.running_env.unlink(missing_ok=True)  # left by a run that was killed
        await self.start_simulators()
        version = await command_output(options.hass_python, "-c", HA_VERSION)
        say(
            f"starting Home Assistant {version.strip()} from {options.ha_venv} "
            f"(log: {options.ha_log})…"
        )
        await self.start_hass()
        say(f"Home Assistant answers after {self.hass_seconds()}s")
        try:
            created = await asyncio.to_thread(onboard, options.ha_url)
        except (OSError, ValueError, LookupError, TypeError) as err:
            raise Failure(
                f"creating the demo user through {options.ha_url}/api/onboarding "
                f"failed: {err}"
            ) from err
        if created:
            say(f"created the user {DEMO_USER}")
        await self.wait_until_initialized()
        if "Starting in recovery mode" in self.read_ha_log():
            log = options.ha_log
            say(f"WARNING: Home Assistant started in recovery mode; see {log}")
        print_instructions(options, self.hass_seconds())
        write_running_env(options, self.running_env)
        await self.supervise()

    async def check_ports(self) -> None:
        """Fail early when another run (or anything) has a port."""
        if await port_in_use(self.options.ha_port):
            raise Failure(
                f"port {self.options.ha_port} is in use "
                "(another Home Assistant or scripts/develop?)"
            )
        for name, port, *_ in self.simulators():
            if await port_in_use(port):
                raise Failure(
                    f"port {port} ({name} simulator) is in use "
                    "(another scripts/develop?)"
                )

    async def spawn(self, name: str, args: list[str], log: Path | None) -> None:
        """Start a child, its output into `log` (None: this terminal).

        In its own session, so a Ctrl-C in the terminal reaches only this
        process, which then stops the children in order: Home Assistant first.
        """
        out = log.open("w", encoding="utf-8") if log else None
        try:
            self.children[name] = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT if out else None,
                start_new_session=True,
            )
        finally:
            if out:
                out.close()

    async def start_simulators(self) -> None:
        """Start the simulators and wait until each answers."""
        for name, port, module, args in self.simulators():
            command = [sys.executable, "-u", "-m", module, "--host", HA_HOST]
            command += ["--port", str(port), *args]
            await self.spawn(name, command, self.simulator_log(name))
        for name, port, *_ in self.simulators():
            for _ in range(200):
                if await port_in_use(port):
                    break
                if self.children[name].returncode is not None:
                    tail(self.simulator_log(name), lines=1000)
                    raise Failure(f"the {name} simulator exited")
                await asyncio.sleep(0.1)
            else:
                raise Failure(f"the {name} simulator does not answer on port {port}")
        say(f"simulators up: {' '.join(self.children)}")

    async def start_hass(self) -> None:
        """Start Home Assistant and wait until its web server answers."""
        options = self.options
        command = [str(options.ha_venv / "bin" / "hass"), "-c", str(options.config)]
        command += ["--log-file", str(options.ha_log)]
        command += ["--skip-pip-packages", SKIP_PIP_PACKAGES]
        console = options.dev / "hass-console.log"
        await self.spawn("hass", command, None if options.show_log else console)
        self.hass_started = time.monotonic()
        process = self.children["hass"]
        while time.monotonic() - self.hass_started < HA_START_TIMEOUT:
            if await http_status(f"{options.ha_url}/manifest.json") == 200:
                return
            if process.returncode is not None:
                del self.children["hass"]
                tail(options.ha_log, console, lines=40)
                raise Failure(
                    f"Home Assistant exited (status {exit_status(process)}); "
                    f"see {options.ha_log}"
                )
            await asyncio.sleep(0.2)
        raise Failure(
            f"Home Assistant did not answer on {options.ha_url} within "
            f"{HA_START_TIMEOUT}s; see {options.ha_log}"
        )

    def hass_seconds(self) -> int:
        """Whole seconds since Home Assistant was started."""
        return int(time.monotonic() - self.hass_started)

    def read_ha_log(self) -> str:
        """Home Assistant's log so far ("" before it has one)."""
        try:
            return self.options.ha_log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    async def wait_until_initialized(self) -> None:
        """Best effort: Home Assistant logs this once every integration is set up."""
        for _ in range(600):
            if "Home Assistant initialized in" in self.read_ha_log():
                return
            if self.children["hass"].returncode is not None:
                return
            await asyncio.sleep(0.1)

    async def supervise(self) -> None:
        """Wait for a child to exit; start Home Assistant again when it asks to."""
        while True:
            waits = {
                asyncio.ensure_future(process.wait()): name
                for name, process in self.children.items()
            }
            try:
                done, _ = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiting in waits:
                    waiting.cancel()
            name = waits[done.pop()]
            status = exit_status(self.children.pop(name))
            if name == "hass" and status == RESTART_EXIT_CODE:
                say("Home Assistant asked for a restart; starting it again…")
                await self.start_hass()
                seconds = self.hass_seconds()
                say(f"Home Assistant is back after {seconds}s: {self.options.ha_url}")
                continue
            if name == "hass":
                tail(self.options.ha_log, lines=40)
                raise Failure(
                    f"Home Assistant exited (status {status}); "
                    f"see {self.options.ha_log}"
                )
            log = self.simulator_log(name)
            tail(log, lines=20)
            raise Failure(f"the {name} simulator exited (status {status}); see {log}")

    async def stop_all(self) -> None:
        """Stop Home Assistant, then the simulators."""
        self.stopping = True
        self.running_env.unlink(missing_ok=True)
        await self.stop_child("hass", grace=60)
        for name in list(self.children):
            await self.stop_child(name, grace=10)

    async def stop_child(self, name: str, grace: float) -> None:
        """Stop a child with SIGTERM, and kill it when it takes too long."""
        if not (process := self.children.get(name)):
            return
        if process.returncode is None:
            process.terminate()
        try:
            async with asyncio.timeout(grace):
                await process.wait()
        except TimeoutError:
            say(f"{name} did not stop within {grace:g}s; killing it")
            process.kill()
            await process.wait()
        del self.children[name]

    def kill_all(self) -> None:
        """Kill the children at once."""
        for process in self.children.values():
            if process.returncode is None:
                process.kill()


async def port_in_use(port: int) -> bool:
    """Whether something listens on the port."""
    try:
        _, writer = await asyncio.open_connection(HA_HOST, port)
    except OSError:
        return False
    writer.close()
    return True


async def http_status(url: str) -> int | None:
    """The status of a GET of `url` (http://host:port/path), None if none."""
    host_port, _, path = url.removeprefix("http://").partition("/")
    host, _, port = host_port.partition(":")
    try:
        async with asyncio.timeout(10):
            reader, writer = await asyncio.open_connection(host, int(port))
            writer.write(f"GET /{path} HTTP/1.0\r\nHost: {host_port}\r\n\r\n".encode())
            status_line = await reader.readline()
            writer.close()
    except OSError, TimeoutError:
        return None
    match = re.match(rb"HTTP/\S+ ([0-9]{3})", status_line)
    return int(match[1]) if match else None


def exit_status(process: asyncio.subprocess.Process) -> int:
    """A finished child's exit status as a shell tells it: 128 + N if killed by N."""
    returncode = process.returncode
    assert returncode is not None
    return returncode if returncode >= 0 else 128 - returncode


def tail(*paths: Path, lines: int) -> None:
    """Show the ends of logs on stderr, as `tail -n` does."""
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if len(paths) > 1:
            print(f"==> {path} <==", file=sys.stderr)
        sys.stderr.write("".join(text.splitlines(keepends=True)[-lines:]))
