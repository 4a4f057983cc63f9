"""Every page, light and dark, desktop and phone: axe-core finds no serious or critical problem.

One app and one browser serve the whole module; its data (users, projects, runs in each state,
a token) is made once through the real forms. Screenshots of each page go to the folder
``screenshot_folder("accessibility")`` names ($SCREENSHOT_DIR/accessibility when that is set).
"""

from __future__ import annotations

import functools
import re
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).parents[1] / "agent_team"))  # the scripted model helpers
from run_pages import create_project, scripted_model, start  # noqa: E402

from agent_team.runs.models import Run, RunStatus  # noqa: E402
from browser_support import (  # noqa: E402
    PageProblems,
    check_axe,
    fresh_app,
    launch_chromium,
    save_screenshots,
    screenshot_folder,
)
from live_server import live_server  # noqa: E402
from paissive_income.auth.models import User  # noqa: E402
from web_support import AuthActions, csrf_token  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"
OWNER, MEMBER, NEWCOMER = "owner@example.com", "member@example.com", "newcomer@example.com"
FORGETFUL = "forgetful@example.com"  # the admin resets their password


@dataclass
class Site:
    """The served app, the ids of what was made in it, and a browser context per user and scheme."""

    url: str
    ids: dict[str, int | str]
    browser: object
    folder: Path
    contexts: dict = field(default_factory=dict)

    def context(self, who: str | None, scheme: str):
        """Return a browser context in ``scheme`` logged in as ``who`` (None: logged out)."""
        key = (who, scheme)
        if key not in self.contexts:
            context = self.browser.new_context(
                color_scheme=scheme, viewport={"width": 1280, "height": 800}
            )
            if who is not None:
                login = context.request.get(f"{self.url}/login").text()
                form = {"email": who, "password": PASSWORD, "csrf_token": csrf_token(login)}
                answer = context.request.post(f"{self.url}/login", form=form, max_redirects=0)
                assert answer.status == 302, f"login of {who} failed"
            self.contexts[key] = context
        return self.contexts[key]


def _set_run(app, run_id: int, **values) -> None:
    """Put a run into a state directly (a worker mid-stage, or one that failed)."""
    with app.extensions["paissive"].database.session() as session:
        run = session.get(Run, run_id)
        for name, value in values.items():
            setattr(run, name, value)
        session.commit()


def _user_id(app, email: str) -> int:
    with app.extensions["paissive"].database.session() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()


def _one_time_link(client, page: str, action: str, **fields) -> str:
    """Post an admin form that shows a one-time link; return the link's path."""
    form = {"csrf_token": csrf_token(client.get(page).get_data(as_text=True)), **fields}
    html = client.post(action, data=form).get_data(as_text=True)
    link = re.search(r'<code id="one-time-link">([^<]+)</code>', html)
    assert link, f"no link from {action}"
    return "/" + link.group(1).split("/", 3)[3]


def _make_data(app) -> dict[str, int | str]:
    """Users, projects and runs in each state the pages show, made through the real forms."""
    queue = app.extensions["agent_team"].queue
    ids = {}
    with app.test_client() as client:
        auth = AuthActions(client)
        auth.register(OWNER, PASSWORD)  # the first account: an admin
        auth.token("laptop")
        auth.token("ci")
        ids["project"] = create_project(client)
        queue.huey.immediate = True  # runs finish inside the request
        finished = start(client, ids["project"]).headers["Location"]
        ids["run"] = int(finished.rsplit("/", 1)[1])
        second = start(client, ids["project"], segments=["translation agencies"])
        ids["run2"] = int(second.headers["Location"].rsplit("/", 1)[1])
        queue.huey.immediate = False  # no worker: these stay queued until set below
        for name in ("running", "failed"):
            ids[name] = int(start(client, ids["project"]).headers["Location"].rsplit("/", 1)[1])
        auth.logout()
        auth.register(MEMBER, PASSWORD)
        create_project(client)
        auth.logout()
        auth.register(NEWCOMER, PASSWORD)
        auth.logout()
        auth.register(FORGETFUL, PASSWORD)
        auth.logout()
        auth.login(OWNER, PASSWORD)
        ids["invitation"] = _one_time_link(
            client, "/admin/users", "/admin/invitations", email="invited@example.com"
        )
        reset = f"/admin/users/{_user_id(app, FORGETFUL)}/reset-password"
        ids["reset"] = _one_time_link(client, reset, reset)
    _set_run(
        app,
        ids["running"],
        status=RunStatus.RUNNING,
        stage="research",
        step="Assessing niche 2 of 4: Subtitle timing assistant",
        prompt_tokens=1200,
    )
    _set_run(
        app,
        ids["failed"],
        status=RunStatus.FAILED,
        stage="research",
        error="the model server did not answer within 60 seconds",
    )
    return ids


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """Serve one app with its data, and one Chromium, for the whole module."""
    with (
        pytest.MonkeyPatch.context() as monkeypatch,
        scripted_model(monkeypatch),
        fresh_app(tmp_path_factory.mktemp("a11y"), open_registration=True) as app,
    ):
        ids = _make_data(app)
        with live_server(app) as url, launch_chromium() as browser:
            folder = screenshot_folder("accessibility", tmp_path_factory)
            site = Site(url=url, ids=ids, browser=browser, folder=folder)
            yield site
            for context in site.contexts.values():
                context.close()


@dataclass(frozen=True)
class Spec:
    """One page: its name, path (formatted with the ids), who sees it and what it must show."""

    name: str
    path: str
    heading: str  # a pattern the page's h1 matches: proof it is the page meant
    who: str | None = OWNER
    status: int = 200
    prepare: Callable | None = None  # what to do on the page before checking it
    within: str | None = None  # the part axe checks, when the rest is checked by another Spec
    ignore: frozenset[int] = frozenset()  # HTTP statuses the page answers on purpose
    missing: str | None = None  # why it is skipped: a page not built yet (the owner in brackets)


def _tab(name: str) -> Callable:
    def open_tab(page) -> None:
        page.get_by_role("tab", name=name).click()
        assert page.get_by_role("tabpanel", name=name).is_visible()

    return open_tab


def _submit_empty(button: str) -> Callable:
    def submit(page) -> None:
        page.get_by_role("button", name=button).click()
        page.locator("#error-summary").wait_for()

    return submit


def _stale(button: str) -> Callable:
    def post_with_a_stale_token(page) -> None:
        page.locator("input[name='csrf_token']").evaluate_all(
            "inputs => inputs.forEach((input) => { input.value = 'stale'; })"
        )
        if button == "Log in":
            page.get_by_label("Email").fill(OWNER)
            page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name=button).click()
        page.get_by_text("Your session expired").first.wait_for()

    return post_with_a_stale_token


def _invite(page) -> None:
    page.get_by_label("Email of the person to invite").fill("guest@example.com")
    page.get_by_role("button", name="Create invitation link").click()
    page.locator("#one-time-link").wait_for()


PLAN_TABS = ("Summary", "Niches", "Solution", "Monetization", "Marketing", "Assumptions")
ERRORS = frozenset({400})  # a form sent back with its errors answers 400

PAGES = [
    Spec("landing", "/", r"^Turn a market segment", who=None),
    Spec("login", "/login", r"^Log in$", who=None),
    Spec(
        "login-errors",
        "/login",
        r"^Log in$",
        who=None,
        prepare=_submit_empty("Log in"),
        ignore=ERRORS,
    ),
    Spec("register", "/register", r"^Create your account$", who=None),
    Spec(
        "register-errors",
        "/register",
        r"^Create your account$",
        who=None,
        prepare=_submit_empty("Register"),
        ignore=ERRORS,
    ),
    Spec("dashboard-empty", "/", r"^Your projects$", who=NEWCOMER),
    Spec("dashboard", "/", r"^Your projects$"),
    Spec("project-new", "/projects/new", r"^New project$"),
    Spec(
        "project-new-errors",
        "/projects/new",
        r"^New project$",
        prepare=_submit_empty("Create project"),
        ignore=ERRORS,
    ),
    Spec("project-edit", "/projects/{project}/edit", r"^Edit project$"),
    Spec("project-delete", "/projects/{project}/delete", r"^Delete"),
    Spec("project", "/projects/{project}", r"^Translators$"),
    Spec("run-running", "/runs/{running}", r"^Run \d+$"),
    Spec("run-failed", "/runs/{failed}", r"^Run \d+$"),
    Spec("run-finished", "/runs/{run}", r"^Run \d+$"),
    *[
        Spec(
            f"run-tab-{tab.lower()}",
            "/runs/{run}",
            r"^Run \d+$",
            prepare=_tab(tab),
            within=f"#{tab.lower()}",
        )
        for tab in PLAN_TABS[1:]  # Summary is the tab run-finished opens on
    ],
    Spec("compare-choose", "/compare?a={run}", r"^Compare$"),
    Spec("compare-runs", "/compare?a={run}&b={run2}", r"^Compare$"),
    Spec("compare-niches", "/compare?a={run}&b={run}:1", r"^Compare$"),
    Spec("sample-plan", "/sample-plan", r"^Sample plan$", who=None),
    *[
        Spec(
            f"sample-tab-{tab.lower()}",
            "/sample-plan",
            r"^Sample plan$",
            who=None,
            prepare=_tab(tab),
            within=f"#{tab.lower()}",
        )
        for tab in ("Niches", "Monetization", "Assumptions")
    ],
    Spec("account", "/account", r"^Your account$"),
    Spec(
        "session-expired",
        "/account",
        r"^Your session expired$",
        prepare=_stale("Log out"),
        ignore=ERRORS,
    ),
    Spec(
        "login-session-expired",
        "/login",
        r"^Log in$",
        who=None,
        prepare=_stale("Log in"),
        ignore=ERRORS,
    ),
    Spec("token-revoke", "/account/tokens/1/revoke", r"^Revoke token"),
    Spec("admin-users", "/admin/users", r"^Users$"),
    Spec("admin-reset-password", "/admin/users/2/reset-password", r"^Reset the password"),
    Spec("admin-invitation-link", "/admin/users", r"^Invitation link for", prepare=_invite),
    Spec("invitation", "{invitation}", r"^Create your account$", who=None),
    Spec("reset-password", "{reset}", r"^Choose a new password$", who=None),
    Spec("api-reference", "/api/v1/reference", r"reference", who=None),
    Spec("not-found", "/no/such/page", r"^404", who=None, status=404),
    Spec("not-found-logged-in", "/runs/999999", r"^404", status=404),
]


def _check(page, within: str | None) -> None:
    """No serious axe-core problem, and nothing wider than the window (no sideways scrolling)."""
    check_axe(page, within)
    width, window = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width <= window, f"{page.url} is {width} px wide in a {window} px window"


def _answered(problem: str, statuses: frozenset[int]) -> bool:
    """Say whether a seen problem is only the page answering one of ``statuses``."""
    return any(
        f"HTTP {code} for " in problem or f"status of {code} " in problem for code in statuses
    )


def _param(spec: Spec, scheme: str):
    marks = [pytest.mark.skip(reason=spec.missing)] if spec.missing else []
    return pytest.param(spec, scheme, id=f"{spec.name}-{scheme}", marks=marks)


@pytest.mark.parametrize(
    ("spec", "scheme"), [_param(spec, scheme) for spec in PAGES for scheme in ("light", "dark")]
)
def test_page_has_no_serious_accessibility_problem(site, spec, scheme):
    page = site.context(spec.who, scheme).new_page()
    problems = PageProblems(page)
    try:
        response = page.goto(site.url + spec.path.format(**site.ids))
        assert response.status == spec.status, f"{spec.name}: HTTP {response.status}"
        if spec.prepare:
            spec.prepare(page)
        heading = page.locator("h1").first.inner_text().strip()
        assert re.search(spec.heading, heading), f"{spec.name}: not the page meant: {heading}"
        check = functools.partial(_check, within=spec.within)
        save_screenshots(page, site.folder, f"{spec.name}-{scheme}", check=check)
        expected = (spec.ignore | {spec.status}) - {200}
        problems.seen = [s for s in problems.seen if not _answered(s, expected)]
        problems.check()
    finally:
        page.close()
