"""``GET /api/v1/projects`` searches and sorts as the dashboard does; its default order is kept."""

from __future__ import annotations

import pytest
from project_rows import add_projects

from paissive_income.projects.listing import QUERY_PARAMETERS


@pytest.fixture
def token(app, auth) -> str:
    auth.register("owner@example.com")
    add_projects(
        app,
        "owner@example.com",
        [("Banana", ["fruit stands"]), ("apple", ["100% growers"]), ("Cherry", ["orchards"])],
    )
    return auth.token()


def _names(client, token, **args) -> list[str]:
    response = client.get(
        "/api/v1/projects", query_string=args, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return [item["name"] for item in response.get_json()["items"]]


def test_default_order_is_still_newest_first(client, token):
    assert _names(client, token) == ["Cherry", "apple", "Banana"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"sort": "name"}, ["apple", "Banana", "Cherry"]),
        ({"sort": "name", "order": "desc"}, ["Cherry", "Banana", "apple"]),
        ({"sort": "created", "order": "asc"}, ["Banana", "apple", "Cherry"]),
        ({"q": "%"}, ["apple"]),
        ({"q": "ORCH"}, ["Cherry"]),
        ({"q": "ch", "sort": "name"}, ["Cherry"]),  # in the name and in "orchards": listed once
        ({"q": "a", "limit": "1", "offset": "1", "sort": "name"}, ["Banana"]),
    ],
)
def test_search_and_sort(client, token, args, expected):
    assert _names(client, token, **args) == expected


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ({"sort": "evil"}, "sort"),
        ({"order": "up"}, "order"),
        ({"q": "a\x00"}, "q"),
        ({"q": "x" * 201}, "q"),
        ({"limit": "0"}, "limit/offset"),
    ],
)
def test_refused_values_are_a_400_naming_the_field(client, token, args, field):
    response = client.get(
        "/api/v1/projects", query_string=args, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["code"] == "bad_request"
    assert [d["field"] for d in error["details"]] == [field]


def test_the_openapi_document_describes_the_parameters(client):
    document = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"]: p for p in document["paths"]["/api/v1/projects"]["get"]["parameters"]}
    for name, schema in QUERY_PARAMETERS.items():
        assert params[name]["schema"] == schema
    assert {"limit", "offset"} <= set(params)
