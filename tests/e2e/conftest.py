"""A logged-in Chromium page on the Home Assistant of scripts/develop.

scripts/e2e starts `scripts/develop --dir <temp dir>` on spare ports and points
E2E_STACK at the running.env it writes: Home Assistant's address, its demo
login and the simulators' addresses. Screenshots go to E2E_SCREENSHOTS.
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
import os
from pathlib import Path
import shlex
from typing import Any

from playwright.sync_api import Browser, Page, ViewportSize, expect, sync_playwright
import pytest

CHROMIUM = "/usr/bin/chromium"  # Debian's; playwright's own browsers are not used
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
TIMEOUT_MS = 30_000  # for every wait unless a step says otherwise
# For what takes Home Assistant long on a busy machine: the first start of a
# configuration flow (it loads the integration), a flow's last step.
SLOW_TIMEOUT_MS = 120_000


@dataclass(frozen=True)
class Stack:
    """What scripts/develop reports in its running.env."""

    ha_url: str
    user: str
    password: str
    inexogy_url: str
    ready_url: str
    push_every: float


def _read_env(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.partition("=")
            values[key] = " ".join(shlex.split(value))
    return values


@pytest.fixture(scope="session")
def stack() -> Stack:
    """The running Home Assistant and simulators."""
    path = os.environ.get("E2E_STACK")
    if not path:
        pytest.exit("E2E_STACK is not set: run the browser tests with scripts/e2e", 2)
    env = _read_env(Path(path))
    return Stack(
        ha_url=env["HA_URL"],
        user=env["HA_USER"],
        password=env["HA_PASSWORD"],
        inexogy_url=env["INEXOGY_URL"],
        ready_url=env["READY_URL"],
        push_every=float(env["READY_PUSH_EVERY"]),
    )


def _screenshot_folder() -> Path:
    return Path(os.environ.get("E2E_SCREENSHOTS", ".develop-e2e/screenshots"))


@pytest.fixture(scope="session")
def screenshots() -> Path:
    """The folder for this run's screenshots."""
    folder = _screenshot_folder()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class Shots:
    """Screenshots numbered in the order taken: `NN-name.png`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def path(self, name: str) -> Path:
        self.count += 1
        return self.folder / f"{self.count:02d}-{name}.png"


@pytest.fixture(scope="session")
def shots(screenshots: Path) -> Shots:
    """Number the screenshots of this run."""
    return Shots(screenshots)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def page(browser: Browser, stack: Stack, shots: Shots) -> Iterator[Page]:
    """One tab for all tests, logged in as the demo user, in English."""
    expect.set_options(timeout=TIMEOUT_MS)
    context = browser.new_context(
        viewport=VIEWPORT, locale="en-US", timezone_id="Europe/Berlin"
    )
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(f"{stack.ha_url}/")
    page.locator("input[name=username]").fill(stack.user)
    page.locator("input[name=password]").fill(stack.password)
    page.screenshot(path=shots.path("login"))
    page.get_by_role("button", name="Log in").click()
    page.locator("ha-sidebar").wait_for()
    yield page
    context.close()


@pytest.fixture
def shot(page: Page, shots: Shots) -> Callable[..., None]:
    """Save a screenshot of the page (keyword arguments: page.screenshot's)."""

    def take(name: str, **kwargs: Any) -> None:
        page.screenshot(path=shots.path(name), **kwargs)

    return take


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep a screenshot of the page as it was when a test failed."""
    report = yield
    page = getattr(item, "funcargs", {}).get("page")
    if report.failed and page is not None and not page.is_closed():
        path = _screenshot_folder() / f"FAILED-{item.name}.png"
        try:
            page.screenshot(path=path)
        except Exception as err:  # a report must never break
            report.sections.append(("screenshot", f"none: {err}"))
        else:
            report.sections.append(("screenshot", str(path)))
    return report
