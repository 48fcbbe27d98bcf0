"""Browser tests: Playwright driving Debian's chromium against a real local server.

No browser is ever downloaded. Without /usr/bin/chromium (or $ONCALL_CHROMIUM) every
test here is skipped with the command that installs it; `.ci/run` installs it.
"""

import os
from pathlib import Path

import pytest

from tests.e2e.client import ADMIN_TOKEN
from tests.e2e.conftest import launch

PROJECT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT / "docs" / "screenshots"
CHROMIUM = os.environ.get("ONCALL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "install it with `sudo apt-get install -y --no-install-recommends chromium` "
    "(or point ONCALL_CHROMIUM at a Chromium binary); .ci/run does this for CI"
)
# The console polls every 10 s; the tests shorten it with ?refresh=<ms>.
REFRESH_MS = 700


@pytest.fixture(autouse=True)
def tables():
    """The server brings its own DynamoDB; skip the in-process tables of the unit tests."""
    yield


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is missing: run `make test` (it installs requirements-dev.txt)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One demo-free server per test module. Incidents become due for escalation after
    1 s, only the tests run the sweep (POST /api/incidents/escalate/check), and pages
    go out within a second (the deliverer's shortest interval)."""
    local = launch(
        tmp_path_factory.mktemp("oncall-browser"),
        ONCALL_ESCALATE_AFTER_SECONDS="1",
        ONCALL_SWEEP_INTERVAL_SECONDS="3600",
        ONCALL_DELIVER_INTERVAL_SECONDS="1",
    )
    yield local.url
    local.stop()


class Console:
    """A page of the console plus what the tests check on every page: dialogs and errors."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.url = base_url
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        page.on("console", self._console)

    def _console(self, message) -> None:
        # Refused 401s and 403s are logged by the browser as failed loads; those are expected.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _dialog(self, dialog) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def open(self, route: str = "") -> None:
        self.page.goto(f"{self.url}/?refresh={REFRESH_MS}#/{route}")

    def sign_in(self, token: str = ADMIN_TOKEN, route: str = "incidents") -> None:
        self.open("signin")
        self.page.get_by_label("API key").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.locator("#who-role").wait_for()
        if route:
            self.go(route)

    def watching(self) -> None:
        """Wait for the first poll: what it sees is the baseline, and only changes after it
        are announced (toasts, notifications)."""
        self.page.locator("#toasts[data-watching]").wait_for(state="attached")

    def go(self, route: str) -> None:
        self.page.evaluate("route => { location.hash = '#/' + route; }", route)

    def screenshot(self, name: str, *, toasts: bool = False, full_page: bool = True) -> None:
        """docs/screenshots/<name>.png; toasts are cleared first unless asked for."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        if not toasts:
            self.page.evaluate("document.getElementById('toasts').replaceChildren()")
        self.page.wait_for_timeout(150)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page)


@pytest.fixture
def console(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="en-GB", timezone_id="UTC")
    context.set_default_timeout(10_000)
    page = context.new_page()
    view = Console(page, server)
    yield view
    context.close()
    assert not view.errors, f"errors on the page (JavaScript, Content-Security-Policy): {view.errors}"
    assert not view.dialogs, f"the page opened dialogs: {view.dialogs}"


@pytest.fixture
def phone(browser, server):
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-GB"
    )
    context.set_default_timeout(10_000)
    view = Console(context.new_page(), server)
    yield view
    context.close()
    assert not view.errors, f"errors on the page (JavaScript, Content-Security-Policy): {view.errors}"
