"""Shared by the browser tests: Debian's Chromium through Playwright, page checks, screenshots."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from paissive_income.config import load_settings

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
# Records CSP violations in the page, since not every Chromium reports them on the console.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(event.violatedDirective + " blocked " + event.blockedURI);
});
"""


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


def save_screenshot(page, path: Path) -> None:
    """Save a full-page screenshot, and a copy in $SCREENSHOT_DIR when that is set."""
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 0
    if target := os.environ.get("SCREENSHOT_DIR"):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


@contextmanager
def fresh_app(tmp_path: Path) -> Iterator:
    """Yield a new app on SQLite in ``tmp_path`` with its schema at head; close it after."""
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
    try:
        yield app
    finally:
        services.cache.close()
        services.database.dispose()
