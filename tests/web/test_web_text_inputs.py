"""Control characters in any text input: a clear field error, never a 500 or a bare page."""

import importlib
import json
import pkgutil

import pytest
from flask_wtf import FlaskForm
from pydantic import ValidationError
from sqlalchemy import func, select

import paissive_income
from paissive_income.api.body import parse_body
from paissive_income.api.spec import OPERATIONS
from paissive_income.auth.models import ApiToken, User
from paissive_income.forms import SafeForm
from paissive_income.projects.models import Project
from paissive_income.projects.schemas import ProjectIn, ProjectPatch
from web_support import csrf_token

# NUL (PostgreSQL cannot store it), ESC, DEL, C1 NEL and a lone surrogate (no database encodes it).
BAD = ["\x00", "\x1b", "\x7f", "\x85"]
ERROR = "must not contain control characters"
PASSWORD = "correct horse battery"


def _count(app, model) -> int:
    with app.extensions["paissive"].database.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def _assert_field_error(response, status: int = 200) -> None:
    assert response.status_code == status, response.text[:500]
    assert ERROR in response.text
    # A page rendered by the app, with its headers, not a bare Werkzeug error.
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("bad", BAD)
def test_login_email_and_password(client, auth, bad):
    auth.register()
    auth.logout()
    # A refused form is a 400, like every other form (it was shown again with 200 before).
    _assert_field_error(auth.login(email=f"owner{bad}@example.com"), status=400)
    _assert_field_error(auth.login(password=f"correct{bad}horse battery"), status=400)


@pytest.mark.parametrize("bad", BAD)
def test_register_email_and_password(app, auth, bad):
    _assert_field_error(auth.register(email=f"new{bad}@example.com"), status=400)
    _assert_field_error(auth.register(password=f"correct{bad}horse battery"), status=400)
    assert _count(app, User) == 0


@pytest.mark.parametrize("bad", BAD)
def test_token_name(app, client, auth, bad):
    auth.register()
    page = client.get("/account").text
    data = {"name": f"lap{bad}top", "csrf_token": csrf_token(page)}
    response = client.post("/account", data=data)
    _assert_field_error(response, status=400)
    assert _count(app, ApiToken) == 0


@pytest.mark.parametrize("bad", BAD)
@pytest.mark.parametrize("field", ["name", "market_segments", "notes"])
def test_project_form_fields(app, client, auth, field, bad):
    auth.register()
    data = {"name": "Plan", "market_segments": "podcasters", "notes": "n"}
    data[field] = f"x{bad}y"
    page = client.get("/projects/new").text
    response = client.post("/projects/new", data={**data, "csrf_token": csrf_token(page)})
    _assert_field_error(response, status=400)
    assert _count(app, Project) == 0


def _string_fields(schema: dict) -> list[tuple[str, bool]]:
    """Return (field, is_array) for every string or array-of-strings property of a body."""
    fields = []
    for name, prop in schema["properties"].items():
        if prop.get("type") == "string":
            fields.append((name, False))
        elif prop.get("type") == "array" and prop["items"].get("type") == "string":
            fields.append((name, True))
    return fields


def _project_operations(client):
    document = client.get("/api/v1/openapi.json").get_json()
    components = document["components"]["schemas"]
    for op in OPERATIONS:
        if op.body in (ProjectIn, ProjectPatch):
            yield op, components[op.body.__name__]


@pytest.mark.parametrize("bad", [*BAD, "\ud800"])
def test_every_string_field_of_the_project_api(app, client, auth, bad):
    auth.register()
    headers = {"Authorization": f"Bearer {auth.token()}", "Content-Type": "application/json"}
    valid = {"name": "Plan", "market_segments": ["podcasters"], "notes": "n"}
    created = client.post("/api/v1/projects", json=valid, headers=headers).get_json()
    checked = 0
    for op, schema in _project_operations(client):
        path = op.path.replace("<int:project_id>", str(created["id"]))
        for field, is_array in _string_fields(schema):
            body = {**valid, field: [f"x{bad}y"] if is_array else f"x{bad}y"}
            # json.dumps escapes the lone surrogate as \\ud800, as an attacker's client would.
            response = client.open(path, method=op.method, data=json.dumps(body), headers=headers)
            assert response.status_code == 422, (op.operation_id, field, response.text)
            fields = [d["field"] for d in response.get_json()["error"]["details"]]
            assert any(f.split(".")[0] == field for f in fields), (op.operation_id, fields)
            checked += 1
    assert checked >= 9  # create, replace and patch × name, segments, notes
    assert _count(app, Project) == 1
    listed = client.get(f"/api/v1/projects/{created['id']}", headers=headers).get_json()
    assert listed["name"] == "Plan" and listed["notes"] == "n"


@pytest.mark.parametrize("bad", [*BAD, "\ud800"])
def test_every_api_body_is_checked_before_its_schema(app, bad):
    """Whatever the operation, any key or string anywhere in its body is held to the rule."""
    bodies = {op.body for op in OPERATIONS if op.body is not None}
    assert {ProjectIn, ProjectPatch} <= bodies
    cases = [
        ({"name": f"x{bad}"}, ("name",)),
        ({"a": {"b": ["fine", f"x{bad}"]}}, ("a", "b", 1)),
        ({f"key{bad}": 1}, (f"key{bad}",)),
    ]
    for schema in bodies:
        for body, loc in cases:
            raw = json.dumps(body)
            with app.test_request_context(method="POST", data=raw, content_type="application/json"):
                with pytest.raises(ValidationError) as info:
                    parse_body(schema)
            [error] = info.value.errors()
            assert ERROR in error["msg"], schema
            if bad != "\ud800" or body is not cases[2][0]:  # pydantic cannot echo a lone surrogate
                assert error["loc"] == loc, schema


def test_every_form_of_the_app_applies_the_text_rule():
    for module in pkgutil.walk_packages(paissive_income.__path__, "paissive_income."):
        skip = module.name.endswith(("__main__", "gunicorn_conf")) or ".migrations" in module.name
        if not skip:
            importlib.import_module(module.name)
    forms = [cls for cls in _subclasses(FlaskForm) if cls.__module__.startswith("paissive_income")]
    assert len(forms) >= 7
    assert [cls for cls in forms if not issubclass(cls, SafeForm)] == []


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)
