"""A new user's first visit, in a real browser: register, log in, create a project, see it."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from live_server import live_server
from paissive_income.config import load_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
EMAIL, PASSWORD = "newcomer@example.com", "correct horse battery"
SEGMENTS = ("freelance illustrators", "indie game studios")

# Records CSP violations in the page, since not every Chromium reports them on the console.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " blocked " + event.blockedURI);
});
"""


@pytest.fixture
def live_url(tmp_path) -> Iterator[str]:
    """Serve a fresh app on SQLite in ``tmp_path`` over real HTTP."""
    from paissive_income.db import migrate
    from paissive_income.web import create_app

    settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        database_url=f"sqlite:///{tmp_path / 'web.db'}",
        secret_key="browser-test-secret-" + "x" * 32,
        log_level="WARNING",
    )
    app = create_app(settings)
    services = app.extensions["paissive"]
    migrate.upgrade(services.database.engine)
    with live_server(app) as url:
        yield url
    services.cache.close()
    services.database.dispose()


@pytest.fixture
def chromium():
    """Launch Debian's headless Chromium through Playwright, or skip when either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class PageProblems:
    """Collect console errors, uncaught exceptions and failed requests seen by a page."""

    def __init__(self, page) -> None:
        self.page = page
        self.seen: list[str] = []
        page.add_init_script(RECORD_CSP_VIOLATIONS)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.seen.append(f"page error: {error}"))
        page.on("requestfailed", self._request_failed)
        page.on("response", self._response)

    def _request_failed(self, request) -> None:
        # A navigation cancels what the page was still loading (net::ERR_ABORTED): on a busy
        # machine that is the logo, and not a fault of the server.
        if request.failure != "net::ERR_ABORTED":
            self.seen.append(f"request failed: {request.url} ({request.failure})")

    def _console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.seen.append(f"console {message.type} on {self.page.url}: {message.text}")

    def _response(self, response) -> None:
        if response.status >= 400:
            self.seen.append(f"HTTP {response.status} for {response.url}")

    def check(self) -> None:
        """Fail if the current page or any earlier one reported a problem."""
        violations = self.page.evaluate("window.__cspViolations || []")
        problems = self.seen + [f"CSP violation on {self.page.url}: {v}" for v in violations]
        assert not problems, "\n".join(problems)


def test_register_login_create_project_and_see_it(chromium, live_url, tmp_path):
    page = chromium.new_page(viewport={"width": 1280, "height": 800})
    problems = PageProblems(page)

    page.goto(f"{live_url}/register")
    problems.check()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_label("Repeat password").fill(PASSWORD)
    page.get_by_role("button", name="Register").click()
    page.wait_for_url(f"{live_url}/")
    assert page.get_by_role("heading", name="Your projects").is_visible()
    problems.check()

    page.get_by_role("button", name="Log out").click()
    page.wait_for_load_state()
    assert page.get_by_role("link", name="Log in").is_visible()
    page.goto(f"{live_url}/login")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{live_url}/")
    problems.check()

    page.get_by_role("link", name="New project").click()
    page.wait_for_url(f"{live_url}/projects/new")
    problems.check()
    page.get_by_label("Name").fill("Illustration marketplace")
    page.get_by_label("Market segments").fill("\n".join(SEGMENTS))
    page.get_by_label("Notes").fill("Start with commissions, then templates.")
    page.get_by_role("button", name="Create project").click()
    page.wait_for_url(re.compile(re.escape(live_url) + r"/projects/\d+$"))  # the project page
    assert page.get_by_role("button", name="Run analysis").is_visible()
    page.get_by_role("link", name="Projects").click()
    page.wait_for_url(f"{live_url}/")

    project = page.locator("li.project").filter(has_text="Illustration marketplace")
    assert project.count() == 1
    segments = project.get_by_role("list", name="Market segments").get_by_role("listitem")
    assert segments.all_inner_texts() == list(SEGMENTS)
    problems.check()

    _save_screenshot(page, tmp_path / "dashboard.png")


def _save_screenshot(page, path: Path) -> None:
    """Save a full-page screenshot, and a copy in $SCREENSHOT_DIR when that is set."""
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    if target := os.environ.get("SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)
