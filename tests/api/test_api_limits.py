"""Hostile bodies get a 400 naming the limit, every 500 is logged with its traceback, and a
database that is down is a 503 naming it."""

import io
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from paissive_income.api.body import MAX_JSON_DEPTH, json_depth
from paissive_income.db import Database
from paissive_income.observability.logging import configure_logging

UNREACHABLE = "postgresql+psycopg://u:pw@127.0.0.1:1/db"


@pytest.fixture
def token(auth) -> str:
    auth.register()
    return auth.token()


def _post(client, token, raw: str):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return client.post("/api/v1/projects", data=raw, headers=headers)


@pytest.mark.parametrize(
    "raw",
    [
        "[" * 1000 + "]" * 1000,  # the reviewer's 2 KB body
        '{"a":' * 1000 + "1" + "}" * 1000,
        '{"name": "x", "market_segments": ' + "[" * 5000,  # unbalanced, still refused for depth
        "[" * 200_000,
    ],
)
def test_deeply_nested_json_is_400_naming_the_limit(client, token, raw):
    response = _post(client, token, raw)
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert error["message"] == f"JSON nested deeper than {MAX_JSON_DEPTH} levels is refused."


def test_nesting_up_to_the_limit_is_parsed(client, token):
    def body(depth: int) -> str:
        notes = "[" * (depth - 1) + "]" * (depth - 1)
        return '{"name": "x", "market_segments": ["a"], "notes": ' + notes + "}"

    assert json_depth(body(MAX_JSON_DEPTH)) == MAX_JSON_DEPTH
    # Parsed, then refused by the schema (notes is a string); one level more is never parsed.
    assert _post(client, token, body(MAX_JSON_DEPTH)).status_code == 422
    assert _post(client, token, body(MAX_JSON_DEPTH + 1)).status_code == 400


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        ('"[[[["', 0),
        ('{"a": "\\"[[[", "b": [{}]}', 3),
        ('["\\\\", [["]]]"]]]', 3),
        ("[]", 1),
        ("1", 0),
    ],
)
def test_json_depth_ignores_brackets_in_strings(text, depth):
    assert json_depth(text) == depth


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ax,:'),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(alphabet='[]{}"\\a', max_size=4), inner, max_size=3)
    ),
    max_leaves=25,
)


def _depth(value) -> int:
    children = value.values() if isinstance(value, dict) else value
    if isinstance(value, dict | list):
        return 1 + max((_depth(child) for child in children), default=0)
    return 0


@given(JSON_VALUES, st.booleans())
def test_json_depth_matches_the_parsed_structure(value, ascii_only):
    assert json_depth(json.dumps(value, ensure_ascii=ascii_only)) == _depth(value)


def test_invalid_json_is_400(client, token):
    for raw in ("{", '{"name": "x",}', "\xff", "NaN-ish"):
        response = _post(client, token, raw)
        assert response.status_code == 400, raw
        assert response.get_json()["error"]["message"] == "The request body is not valid JSON."


def _capture_logs() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("INFO", stream=stream)
    return stream


def _errors(stream) -> list[dict]:
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [line for line in lines if line["level"] == "ERROR"]


def _broken(monkeypatch, name: str) -> None:
    """Make the projects service's ``name`` fail as a bug would (a database down is a 503)."""
    from paissive_income.projects import service

    def boom(*_args, **_kwargs):
        raise RuntimeError("boom: pw@secret")

    monkeypatch.setattr(service, name, boom)


def test_unexpected_api_error_is_500_and_logged_with_traceback(client, token, monkeypatch):
    _broken(monkeypatch, "list_projects")
    stream = _capture_logs()
    response = client.get(
        "/api/v1/projects",
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "boom-1"},
    )
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "Traceback" not in response.text and "pw" not in response.text
    [error] = _errors(stream)
    assert error["message"] == "Exception on /api/v1/projects [GET]"
    assert error["request_id"] == "boom-1"
    assert "Traceback" in error["exc_info"] and "RuntimeError" in error["exc_info"]


def test_unexpected_page_error_is_500_logged_and_keeps_security_headers(
    app, client, auth, monkeypatch
):
    auth.register()
    app.config["PROPAGATE_EXCEPTIONS"] = False  # behave as in production, not as under TESTING
    _broken(monkeypatch, "page_of_projects")
    stream = _capture_logs()
    response = client.get("/")
    assert response.status_code == 500
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Traceback" not in response.text
    errors = _errors(stream)
    assert errors and "Traceback" in errors[0]["exc_info"]


def test_database_down_is_a_503_naming_it_logged_in_one_line(app, client, auth, token):
    app.config["PROPAGATE_EXCEPTIONS"] = False
    app.extensions["paissive"].database = Database(UNREACHABLE)
    stream = _capture_logs()
    api = client.get("/api/v1/projects", headers={"Authorization": f"Bearer {token}"})
    page = client.get("/")  # signed in: the page's header would read the user
    for response in (api, page):
        assert response.status_code == 503 and response.headers["Retry-After"] == "30"
        assert "database cannot be reached" in response.text
        assert "Traceback" not in response.text and "pw" not in response.text
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert api.get_json()["error"]["code"] == "service_unavailable"
    assert page.text.startswith("<!doctype html>")  # the site's page, not a bare line
    assert _errors(stream) == []  # an outage is no bug: a warning, without a traceback
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    warned = [line["message"] for line in lines if "dependency unavailable" in line["message"]]
    assert len(warned) == 2 and all("pw@" not in line for line in warned)
