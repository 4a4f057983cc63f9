"""``/api/v1/projects`` CRUD with bearer tokens, errors in one shape, and the OpenAPI document."""

import pytest
from openapi_spec_validator import validate

from web_support import AuthActions


@pytest.fixture
def token(auth) -> str:
    auth.register()
    return auth.token()


def _h(token):
    return {"Authorization": f"Bearer {token}"}


PROJECT = {"name": "Plan", "market_segments": ["etsy sellers", "Etsy Sellers", "podcasters"]}


def test_crud_round_trip(client, token):
    created = client.post("/api/v1/projects", json=PROJECT, headers=_h(token))
    assert created.status_code == 201
    body = created.get_json()
    assert body["market_segments"] == ["etsy sellers", "podcasters"]
    pid = body["id"]
    assert client.get(f"/api/v1/projects/{pid}", headers=_h(token)).get_json()["name"] == "Plan"
    patched = client.patch(f"/api/v1/projects/{pid}", json={"notes": "hi"}, headers=_h(token))
    assert patched.get_json()["notes"] == "hi" and patched.get_json()["name"] == "Plan"
    replaced = client.put(
        f"/api/v1/projects/{pid}", json={"name": "New", "market_segments": ["x"]}, headers=_h(token)
    )
    assert replaced.get_json()["name"] == "New" and replaced.get_json()["notes"] == ""
    listing = client.get("/api/v1/projects", headers=_h(token)).get_json()
    assert listing["total"] == 1 and listing["items"][0]["name"] == "New"
    assert client.delete(f"/api/v1/projects/{pid}", headers=_h(token)).status_code == 204
    assert client.get(f"/api/v1/projects/{pid}", headers=_h(token)).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer pi_nope", "Basic dXNlcjpwYXNz", "pi_x"])
def test_bad_token_is_401_in_error_shape(client, token, header):
    headers = {"Authorization": header} if header else {}
    response = client.get("/api/v1/projects", headers=headers)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_another_users_project_is_404(app, client, token):
    pid = client.post("/api/v1/projects", json=PROJECT, headers=_h(token)).get_json()["id"]
    other = AuthActions(app.test_client())
    other.client.get("/")
    other.register("intruder@example.com")
    intruder = other.token()
    for method in ("get", "delete"):
        response = getattr(client, method)(f"/api/v1/projects/{pid}", headers=_h(intruder))
        assert response.status_code == 404
    response = client.patch(f"/api/v1/projects/{pid}", json={"name": "pwned"}, headers=_h(intruder))
    assert response.status_code == 404
    assert client.get(f"/api/v1/projects/{pid}", headers=_h(token)).get_json()["name"] == "Plan"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"market_segments": ["x"]}, "name"),
        ({"name": "x", "market_segments": []}, "market_segments"),
        ({"name": "   ", "market_segments": ["x"]}, "name"),
        ({"name": "x", "market_segments": ["x"], "owner_id": 2}, "owner_id"),
        ({"name": "x\u0000", "market_segments": ["x"]}, "name"),
    ],
)
def test_invalid_body_names_the_field_and_writes_nothing(client, token, payload, field):
    response = client.post("/api/v1/projects", json=payload, headers=_h(token))
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in [d["field"] for d in error["details"]]
    assert client.get("/api/v1/projects", headers=_h(token)).get_json()["total"] == 0


def test_patch_refuses_null(client, token):
    pid = client.post("/api/v1/projects", json=PROJECT, headers=_h(token)).get_json()["id"]
    response = client.patch(f"/api/v1/projects/{pid}", json={"name": None}, headers=_h(token))
    assert response.status_code == 422
    assert client.get(f"/api/v1/projects/{pid}", headers=_h(token)).get_json()["name"] == "Plan"


def test_non_json_body_is_400(client, token):
    response = client.post("/api/v1/projects", data="not json", headers=_h(token))
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "bad_request"


def test_oversized_body_is_413_in_error_shape(client, token):
    response = client.post(
        "/api/v1/projects", data="x" * 2_000_000, headers=_h(token), content_type="application/json"
    )
    assert response.status_code == 413
    assert "error" in response.get_json()


def test_unknown_route_is_404_json(client):
    assert client.get("/api/v1/nothing").get_json()["error"]["code"] == "not_found"


def test_openapi_document_is_valid_and_matches_routes(client):
    document = client.get("/api/v1/openapi.json").get_json()
    validate(document)
    runs = {"", "/plan", "/assumptions", "/niche", "/rerun", "/cancel", "/resume", "/events"}
    assert set(document["paths"]) == {
        "/api/v1/projects",
        "/api/v1/projects/{project_id}",
        "/api/v1/projects/{project_id}/runs",
        "/api/v1/runs",
        *(f"/api/v1/runs/{{run_id}}{tail}" for tail in runs),
    }
    item = document["paths"]["/api/v1/projects/{project_id}"]
    assert set(item) == {"get", "put", "patch", "delete"}
    schema = document["components"]["schemas"]["ProjectIn"]
    assert schema["required"] == ["name", "market_segments"]
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=101",
        "limit=1_0",
        "limit=%20 5",
        "offset=-1",
        "limit=²",
        "offset=" + "9" * 5000,
    ],
)
def test_paging_takes_plain_numbers_in_range_only(client, token, query):
    response = client.get(f"/api/v1/projects?{query}", headers=_h(token))
    assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"
