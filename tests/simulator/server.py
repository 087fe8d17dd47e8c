"""What the simulators' servers share.

Serving an aiohttp app on a loopback port (any free one or a given one),
recording every request and timing every answer, holding requests while a
switch says so, the answers of the faults that both clouds know (their own
error pages, a page of HTML or nothing at all with 200, a request that hangs),
compact JSON, and the dev server's lifecycle: serve until Ctrl-C or SIGTERM.
"""

import argparse
import asyncio
from collections.abc import Awaitable, Callable, Coroutine
import contextlib
from enum import StrEnum
import json
import signal
from typing import Any, ClassVar

from aiohttp import web

from tests.simulator import NON_FINITE_MARK, Answer

type Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

PORTAL = (
    "<!DOCTYPE html>\n<html><head><title>Maintenance</title></head>\n"
    "<body><h1>We are back soon</h1></body></html>\n"
)
# The error page of the proxy or gateway in front of a cloud; {1} signs it.
_ERROR_PAGE = (
    "<html>\r\n<head><title>{0}</title></head>\r\n<body>\r\n<center><h1>{0}</h1>"
    "</center>\r\n<hr><center>{1}</center>\r\n</body>\r\n</html>\r\n"
)


class Abort(Exception):
    """Raised inside handlers to answer with a prepared response."""

    def __init__(self, response: web.Response) -> None:
        super().__init__(response.status)
        self.response = response


def json_text(payload: Any, non_finite: str | None = None) -> str:
    """Return compact JSON; NON_FINITE_MARK strings become ``non_finite``.

    ``non_finite`` is what JSON cannot have (NaN, Infinity, 1e400...), which
    Python's json writes and reads.
    """
    text = json.dumps(payload, separators=(",", ":"))
    if non_finite is None:
        return text
    return text.replace(json.dumps(NON_FINITE_MARK), non_finite)


def json_answer(payload: Any, non_finite: str | None = None) -> web.Response:
    """Return a 200 answer of compact JSON (see json_text)."""
    return web.Response(
        text=json_text(payload, non_finite), content_type="application/json"
    )


class Server:
    """A cloud's aiohttp app served on a loopback port; subclasses add the routes.

    Handlers may raise Abort. Every request is recorded, every answer timed by
    the clock. Requests held while a switch says so go on when a switch
    changes (_wake) or the server stops.
    """

    # The path of the base URL, which recorded request paths leave out.
    prefix: ClassVar[str] = ""
    # What signs the cloud's own error pages (the proxy or gateway in front
    # of it), and the status of its page for SERVER_ERROR.
    gateway: ClassVar[str] = "nginx"
    server_error: ClassVar[int] = 502

    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        # Every answer, in order, with the clock's time: to count and time faults.
        self.answers: list[Answer] = []
        self._arrived = asyncio.Event()
        self._release = asyncio.Event()
        self._stopping = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self._base: str | None = None

    @property
    def base_url(self) -> str:
        """Return the base URL (valid after start)."""
        if self._base is None:
            raise RuntimeError("the simulator is not started")
        return self._base

    def request_count(self, path: str) -> int:
        """Count requests for ``path``, with the base URL's path or without it.

        For inexogy "/meters", "meters" and "/public/v1/meters" count the same;
        for READY, e.g. "/api/v1/readings/latest".
        """
        path = "/" + path.removeprefix(self.prefix).lstrip("/")
        return sum(1 for _, p, _ in self.requests if p == path)

    async def wait_for_requests(self, path: str, count: int) -> None:
        """Wait until ``count`` requests for ``path`` have arrived."""
        while self.request_count(path) < count:
            await self._arrived.wait()
            self._arrived.clear()

    # ---- server lifecycle ----------------------------------------------------------
    def app(self) -> web.Application:
        """Build the aiohttp application."""
        app = web.Application(middlewares=[self._middleware])
        self._add_routes(app.router)
        return app

    def _add_routes(self, router: web.UrlDispatcher) -> None:
        raise NotImplementedError

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve on host:port (0 = any free port); return the base URL."""
        self._stopping = False
        self._runner = web.AppRunner(self.app(), handle_signals=False, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, host, port).start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        bound_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self._base = f"http://{bound_host}:{bound_port}{self.prefix}"
        return self._base

    async def stop(self) -> None:
        """Release hanging requests, cancel work in flight, then shut down."""
        self._stopping = True
        self._wake()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run ``coro`` in the background, until it ends or the server stops."""
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settle(self) -> None:
        """Wait for all work in flight.

        For READY: every delivery in flight (verifications, status posts, pushes).
        """
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
            # Awaiting only finished tasks never yields, and a finished task
            # leaves the set in a callback the loop has yet to run: let it.
            await asyncio.sleep(0)

    # ---- holding requests ----------------------------------------------------------
    def _wake(self) -> None:
        """A switch changed: let held requests look at theirs again."""
        self._release.set()
        self._release = asyncio.Event()

    async def _hold(self, held: Callable[[], bool]) -> bool:
        """Wait while ``held()``; return False if the server stops first."""
        while held():
            if self._stopping:
                return False
            await self._release.wait()
        return True

    async def _hold_or_time_out(self, held: Callable[[], bool]) -> None:
        """Wait while ``held()``; answer 504 if the server stops first."""
        if not await self._hold(held):
            raise self.error_page(504)

    # ---- answers -------------------------------------------------------------------
    def error_page(self, status: int) -> Abort:
        """Return the error page of the proxy or gateway in front of the cloud."""
        title = f"{status} {web.Response(status=status).reason}"
        page = _ERROR_PAGE.format(title, self.gateway)
        return Abort(web.Response(status=status, text=page, content_type="text/html"))

    async def _answer_fault(
        self, fault: StrEnum, still: Callable[[], bool] | None
    ) -> None:
        """Raise the answer of ``fault`` if both clouds know it: return if not.

        SERVER_ERROR: the error page. HTML_PAGE and EMPTY_ANSWER: 200 OK with
        a page of HTML (a captive portal, a maintenance page) or with nothing
        at all: something else than the API answered. TIMEOUT (unless
        ``still`` is None): hang while ``still()`` or until stopped, then 504.
        The clouds' Fault enums are their own; these have the same values.
        """
        if fault == "server_error":
            raise self.error_page(self.server_error)
        if fault == "html_page":
            raise Abort(web.Response(text=PORTAL, content_type="text/html"))
        if fault == "empty_answer":
            raise Abort(web.Response(body=b"", content_type="application/json"))
        if fault == "timeout" and still is not None:
            await self._hold(still)
            raise self.error_page(504)

    @web.middleware
    async def _middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        path = request.path
        if path.startswith(f"{self.prefix}/"):
            path = path.removeprefix(self.prefix)
        self.requests.append((request.method, path, dict(request.query)))
        self._arrived.set()
        try:
            response = await self._answer(request, path, handler)
        except Abort as err:
            response = err.response
        except web.HTTPException as err:  # aiohttp's own answer, outside the API
            self.answers.append(Answer(self.clock(), request.method, path, err.status))
            raise
        except asyncio.CancelledError:  # the client gave up waiting
            self.answers.append(Answer(self.clock(), request.method, path, 499))
            raise
        self.answers.append(Answer(self.clock(), request.method, path, response.status))
        return response

    async def _answer(
        self, request: web.Request, path: str, handler: Handler
    ) -> web.StreamResponse:
        """Answer a request (its recorded ``path``); may raise Abort."""
        return await handler(request)


# ---- the dev server ----------------------------------------------------------------
def command_line(description: str, port: int) -> argparse.ArgumentParser:
    """Return the dev server's parser, with where to serve: --host and --port."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=port)
    return parser


async def serve(
    server: Server,
    host: str,
    port: int,
    name: str,
    banner: Callable[[str], str],
    work: Callable[[], Coroutine[Any, Any, None]] | None = None,
) -> None:
    """Serve until SIGTERM or Ctrl-C; print ``banner(url)`` once it answers.

    ``work`` runs meanwhile; it only ends by raising, which stops the server.
    """
    url = await server.start(host, port)
    print(banner(url), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    tasks: set[asyncio.Future[Any]] = {asyncio.ensure_future(stop.wait())}
    if work is not None:
        tasks.add(asyncio.ensure_future(work()))
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            task.result()  # raises what ended the work
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.stop()
    print(f"{name} stopped", flush=True)


def run(serving: Coroutine[Any, Any, None]) -> None:
    """Run the dev server in an event loop of its own; Ctrl-C ends it quietly."""
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serving)
