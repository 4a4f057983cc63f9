"""Shared by the browser tests: Debian's Chromium through Playwright, page checks, screenshots."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable, Iterator
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


# The page widths every screenshot is taken at: a desktop and a phone.
WIDTHS = (1280, 390)
# axe-core impacts that fail a test (minor and moderate ones are left to review).
FAILING_IMPACTS = ("serious", "critical")


@contextmanager
def launch_chromium() -> Iterator:
    """Launch Debian's headless Chromium through Playwright, or skip when either is missing."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def chromium():
    """Debian's headless Chromium for one test."""
    with launch_chromium() as browser:
        yield browser


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


def axe_violations(page, within: str | None = None) -> list[str]:
    """Describe each serious or critical axe-core violation on the page (or the part ``within``)."""
    from axe_playwright_python.base import AXE_SCRIPT

    if not page.evaluate("typeof window.axe === 'object'"):  # once per page load
        page.evaluate(AXE_SCRIPT)
    found = page.evaluate(
        "(within) => axe.run(within ? {include: [[within]]} : document,"
        " {resultTypes: ['violations']})",
        within,
    )["violations"]
    return [
        f"{page.url}: {v['id']} ({v['impact']}): {v['help']}\n"
        + "\n".join(_axe_node(node) for node in v["nodes"])
        for v in found
        if v["impact"] in FAILING_IMPACTS
    ]


def _axe_node(node: dict) -> str:
    why = " ".join((node.get("failureSummary") or "").split())
    return f"    at {' '.join(map(str, node['target']))}: {node['html'][:160]}\n      {why[:300]}"


def check_axe(page, within: str | None = None) -> None:
    """Fail, listing rule, impact, help and nodes, if axe-core finds a serious or critical issue."""
    violations = axe_violations(page, within)
    assert not violations, "axe-core found:\n" + "\n".join(violations)


def screenshot_folder(name: str, tmp_path_factory) -> Path:
    """Return the folder for screenshots: $SCREENSHOT_DIR/<name>, or a new pytest temp folder."""
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-")
    if target := os.environ.get("SCREENSHOT_DIR"):
        folder = Path(target) / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    return tmp_path_factory.mktemp(name, numbered=True)


@pytest.fixture
def screenshots(request, tmp_path_factory) -> Path:
    """The folder this test's screenshots go to (see ``screenshot_folder``)."""
    return screenshot_folder(request.node.name, tmp_path_factory)


def save_screenshot(page, path: Path, *, most: int = 5000) -> None:
    """Save a full-page screenshot (its top ``most`` px), and a copy in $SCREENSHOT_DIR if set."""
    size = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    clip = {"x": 0, "y": 0, "width": size[0], "height": most} if size[1] > most else None
    page.screenshot(path=str(path), full_page=True, clip=clip)
    assert path.stat().st_size > 0
    # No copy when the file is in $SCREENSHOT_DIR already (see screenshot_folder).
    if (target := os.environ.get("SCREENSHOT_DIR")) and not path.is_relative_to(target):
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(target) / path.name)


def save_screenshots(
    page, folder: Path, name: str, *, check: Callable | None = None, height: int = 800
) -> list[Path]:
    """At each of ``WIDTHS``: size the page, run ``check(page)``, save ``<name>-<width>.png``."""
    # The viewport is left at the last width (390): callers that go on set the one they need.
    paths = []
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        if check is not None:
            check(page)
        path = folder / f"{name}-{width}.png"
        save_screenshot(page, path)
        paths.append(path)
    return paths


@contextmanager
def fresh_app(tmp_path: Path, **overrides) -> Iterator:
    """Yield a new app on SQLite in ``tmp_path`` (schema at head, ``overrides`` set); close it."""
    from paissive_income.db import migrate
    from paissive_income.web import create_app

    settings = load_settings(
        {},
        instance_path=tmp_path / "instance",
        database_url=f"sqlite:///{tmp_path / 'web.db'}",
        secret_key="browser-test-secret-" + "x" * 32,
        log_level="WARNING",
        **overrides,
    )
    app = create_app(settings)
    services = app.extensions["paissive"]
    migrate.upgrade(services.database.engine)
    try:
        yield app
    finally:
        services.cache.close()
        services.database.dispose()
