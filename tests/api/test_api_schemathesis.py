"""Property-based API testing: schemathesis fuzzes every documented operation of a live app."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings

from live_server import live_server

schemathesis = pytest.importorskip("schemathesis")

pytestmark = pytest.mark.slow

MAX_EXAMPLES = 30


def _create_user_with_token(app, *, email: str = "api@example.com") -> str:
    """Register a user through the auth service and return a new API token's secret."""
    from paissive_income.auth.service import create_token, register_user

    with app.extensions["paissive"].database.session() as session:
        user = register_user(session, email=email, password="correct horse battery")
        _token, secret = create_token(session, user=user, name="schemathesis")
    return secret


@pytest.fixture
def api_token(app) -> str:
    """A bearer token of a fresh user, who owns one project so reads can find something."""
    secret = _create_user_with_token(app)
    client = app.test_client()
    response = client.post(
        "/api/v1/projects",
        headers={"Authorization": f"Bearer {secret}"},
        json={"name": "Seed project", "market_segments": ["podcasters"]},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return secret


@pytest.fixture
def api_schema(app, api_token):
    """The OpenAPI document as served by a live app, with ``api_token`` for its bearerAuth."""
    # Auth given through the schema's security scheme, not as a plain header, so schemathesis
    # knows which requests it stripped of auth on purpose and checks they get a 401.
    # 422 answers schema-valid input that the data refuses (a segment the project does not
    # have, an assumption key the plan does not hold, a value outside its bounds): RFC 9110's
    # "unprocessable content", so schema-valid requests may get it.
    accepted = ["2xx", "3xx", "401", "403", "404", "409", "422", "429", "5xx"]
    config = schemathesis.Config.from_dict(
        {
            "auth": {"openapi": {"bearerAuth": {"bearer": api_token}}},
            "checks": {"positive_data_acceptance": {"expected-statuses": accepted}},
        }
    )
    with live_server(app) as base_url:
        yield schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,  # a shared CI box can stall a request; the checks, not timing, are the point
    database=None,  # no .hypothesis/ folder in the work tree; failures print a curl to replay
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_conforms_to_its_openapi_document(case):
    case.call_and_validate()


def test_api_workflows_conform_to_its_openapi_document(api_schema, app):
    """Chain calls (create, then read, change and delete that id) so real ids get exercised too."""

    class Workflow(api_schema.as_state_machine()):
        def setup(self) -> None:
            # Every scenario starts from no projects, so a replay sees the same responses:
            # links feed response values into later requests, and hypothesis checks replays.
            _delete_all_projects(app)

    Workflow.run(
        settings=settings(
            max_examples=20,
            stateful_step_count=6,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        )
    )


def _delete_all_projects(app) -> None:
    from sqlalchemy import delete

    from paissive_income.projects.models import Project

    with app.extensions["paissive"].database.session() as session:
        session.execute(delete(Project))
        session.commit()
