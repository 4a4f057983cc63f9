"""Request ids, JSON logs without secrets, health checks and metrics of the web app."""

import io
import json
import logging

from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from paissive_income.cache import RedisCache
from paissive_income.db import Database
from paissive_income.observability.logging import configure_logging


def _capture_logs(level="INFO") -> io.StringIO:
    stream = io.StringIO()
    configure_logging(level, stream=stream)
    return stream


def _lines(stream):
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_request_id_is_echoed_or_made(client):
    given = client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    made = client.get("/healthz", headers={"X-Request-ID": "<script>alert(1)</script>"})
    assert made.headers["X-Request-ID"] != "<script>alert(1)</script>"
    assert len(made.headers["X-Request-ID"]) == 32


def test_log_lines_are_json_with_request_id(client):
    stream = _capture_logs()
    client.get("/healthz", headers={"X-Request-ID": "req-42"})
    access = [line for line in _lines(stream) if line["logger"] == "paissive_income.access"]
    assert access and access[-1]["request_id"] == "req-42"
    assert access[-1]["message"] == "GET /healthz 200"


def test_passwords_and_tokens_never_reach_the_logs(client, auth):
    stream = _capture_logs("DEBUG")
    auth.register(password="very secret password 123")
    secret = auth.token()
    client.get("/api/v1/projects", headers={"Authorization": f"Bearer {secret}"})
    logging.getLogger("t").info("token=%s password=%s", secret, "very secret password 123")
    text = stream.getvalue()
    assert "very secret password 123" not in text
    assert secret not in text
    assert "***" in text


def test_healthz_and_readyz(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.get_json()["checks"] == {
        "database": "ok",
        "schema": "ok",
        "cache": "ok",
        "queue": "ok",
    }


def test_readyz_names_schema_when_not_migrated(settings, tmp_path):
    from paissive_income.web import create_app

    app = create_app(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path}/empty.db"}))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failing"] == ["schema"]


def test_readyz_names_unreachable_cache_and_database(app):
    services = app.extensions["paissive"]
    services.cache = RedisCache("redis://127.0.0.1:1/0")
    services.database = Database("postgresql+psycopg://u:pw@127.0.0.1:1/db")
    from paissive_income.observability.health import run_checks
    from paissive_income.web import _readiness_checks

    ready, results = run_checks(_readiness_checks(services))
    assert not ready
    assert results["cache"].startswith("failed:") and results["database"].startswith("failed:")
    assert "pw@" not in results["database"]


def test_metrics_count_requests_by_endpoint_and_status(client):
    for _ in range(3):
        client.get("/healthz")
    client.get("/api/v1/projects")
    families = {
        f.name: f
        for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
    }
    samples = {
        (s.labels["endpoint"], s.labels["status"]): s.value
        for s in families["http_requests"].samples
        if s.name == "http_requests_total"
    }
    assert samples[("/healthz", "200")] == 3
    assert samples[("/api/v1/projects", "401")] == 1
    assert "http_request_duration_seconds" in families
    assert families["http_requests_in_flight"].samples[0].value == 1  # the /metrics call itself


def test_csrf_rejected_requests_are_still_tagged_and_counted(client):
    response = client.post("/login", data={"email": "a@b.co", "password": "x"})
    assert response.status_code == 400
    assert len(response.headers["X-Request-ID"]) == 32
    text = client.get("/metrics").get_data(as_text=True)
    assert 'http_requests_total{endpoint="/login",method="POST",status="400"} 1.0' in text


def test_html_405_keeps_allow_header(client):
    response = client.delete("/login")
    assert response.status_code == 405
    assert {"GET", "POST"} <= set(response.headers["Allow"].replace(" ", "").split(","))


def test_metrics_content_type_names_the_charset_once(client):
    content_type = client.get("/metrics").headers["Content-Type"]
    assert content_type == CONTENT_TYPE_LATEST
    assert content_type.startswith("text/plain; version=") and content_type.count("charset") == 1
