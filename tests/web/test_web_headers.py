"""Caching headers: nothing personal is kept by a browser or proxy; static files may be."""

import pytest

from web_support import csrf_token

AUTHENTICATED_PAGES = ["/", "/account", "/projects/new", "/projects/1/edit", "/admin/users"]


@pytest.fixture
def logged_in(client, auth):
    auth.register()
    page = client.get("/projects/new").text
    client.post(
        "/projects/new",
        data={"name": "P", "market_segments": "m", "csrf_token": csrf_token(page)},
    )
    return client


@pytest.mark.parametrize("path", AUTHENTICATED_PAGES)
def test_authenticated_pages_are_not_stored(logged_in, path):
    response = logged_in.get(path)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def test_new_token_page_and_api_are_not_stored(logged_in, auth):
    page = logged_in.post("/account", data={"name": "t", "csrf_token": _token(logged_in)})
    assert "new-token" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    api = logged_in.get("/api/v1/projects", headers={"Authorization": f"Bearer {auth.token()}"})
    assert api.status_code == 200 and api.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/login", "/register", "/nope"])
def test_anonymous_pages_with_forms_or_errors_are_not_stored(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    response = client.get("/static/app.css")
    assert response.status_code == 200
    assert "no-store" not in response.headers.get("Cache-Control", "")


def _token(client) -> str:
    return csrf_token(client.get("/account").text)
