"""``/``: a landing page that says what the product does for visitors, the dashboard for users."""

from __future__ import annotations

import re

import pytest

from paissive_income.web import create_app
from web_support import AuthActions

PROMISES = [
    "team of AI agents",
    "ranked niche opportunities",
    "a solution",
    "pricing and a revenue model",
    "a marketing plan",
    "The model estimates, code computes, you decide",
    "Self-hosted",
    "nothing leaves this machine",
]


def test_a_visitor_gets_the_landing_page(client):
    response = client.get("/")
    assert response.status_code == 200
    html = response.text
    for promise in PROMISES:
        assert promise in html, promise
    assert 'href="/register"' in html and 'href="/login"' in html
    assert 'href="/sample-plan"' in html
    assert "Your projects" not in html


def test_the_sample_plan_the_landing_links_to_is_public(client):
    html = client.get("/").text
    sample = re.search(r'href="(/sample-plan)">See a sample plan<', html).group(1)
    assert client.get(sample).status_code == 200


def test_a_logged_in_user_gets_the_dashboard(client, auth):
    auth.register()
    html = client.get("/").text
    assert "Your projects" in html
    assert "The model estimates, code computes" not in html


def test_after_logging_out_the_landing_page_is_back(client, auth):
    auth.register()
    auth.logout()
    assert "The model estimates, code computes, you decide" in client.get("/").text


@pytest.fixture
def app_with(settings):
    """Build apps with OPEN_REGISTRATION set either way (its default is not the point here)."""
    from paissive_income.db import migrate

    apps = []

    def build(open_registration: bool):
        app = create_app(settings.model_copy(update={"open_registration": open_registration}))
        app.config.update(TESTING=True)
        migrate.upgrade(app.extensions["paissive"].database.engine)
        apps.append(app)
        return app

    yield build
    for app in apps:
        app.extensions["paissive"].cache.close()
        app.extensions["paissive"].database.dispose()


def _landing_actions(html: str) -> str:
    return re.search(r'<div class="landing-actions">(.*?)</div>', html, re.S).group(1)


def test_closed_registration_is_not_promised(app_with):
    closed_app = app_with(False)
    first = AuthActions(closed_app.test_client())
    # No account yet: the first one (the admin) may still register, so the landing offers it.
    assert 'href="/register"' in _landing_actions(first.client.get("/").text)
    first.register("admin@example.com")
    visitor = closed_app.test_client()
    html = visitor.get("/").text
    assert 'href="/register"' not in _landing_actions(html)
    assert "Create an account" not in html
    assert "Registration is closed on this server" in html
    assert 'href="/login"' in _landing_actions(html)


def test_open_registration_is_offered_after_the_first_account(app_with):
    open_app = app_with(True)
    AuthActions(open_app.test_client()).register("admin@example.com")
    html = open_app.test_client().get("/").text
    assert 'href="/register"' in _landing_actions(html)
    assert "Registration is closed" not in html
