"""Shared fixtures: settings, app and client on SQLite always, PostgreSQL/Redis when configured."""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from paissive_income.config import Settings, load_settings

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL")

DATABASES = ["sqlite"] + (["postgresql"] if TEST_DATABASE_URL else [])
# CI sets this so that tests needing PostgreSQL, Redis or Chromium fail instead of skipping.
REQUIRE_TEST_SERVICES = os.environ.get("REQUIRE_TEST_SERVICES") == "1"


def pytest_configure(config) -> None:
    """Refuse to run without the real services when CI demands them."""
    if REQUIRE_TEST_SERVICES and not (TEST_DATABASE_URL and TEST_REDIS_URL):
        raise pytest.UsageError(
            "REQUIRE_TEST_SERVICES=1 needs TEST_DATABASE_URL and TEST_REDIS_URL"
        )


def skip_or_fail(reason: str) -> None:
    """Skip a test whose real dependency is missing, or fail when CI requires it."""
    if REQUIRE_TEST_SERVICES:
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


def _postgres_schema_url(schema: str) -> str:
    """Return TEST_DATABASE_URL with every connection's search_path set to ``schema``."""
    joiner = "&" if "?" in TEST_DATABASE_URL else "?"
    return f"{TEST_DATABASE_URL}{joiner}options=-csearch_path%3D{schema}"


@pytest.fixture(params=DATABASES)
def database_url(request, tmp_path) -> Iterator[str]:
    """Yield a fresh, empty database URL: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    schema = "t_" + uuid.uuid4().hex[:12]
    admin = create_engine(load_settings({"DATABASE_URL": TEST_DATABASE_URL}).sqlalchemy_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield load_settings({"DATABASE_URL": _postgres_schema_url(schema)}).sqlalchemy_url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def redis_url() -> str:
    """Return the test Redis URL, or skip when none is configured."""
    if not TEST_REDIS_URL:
        skip_or_fail("TEST_REDIS_URL is not set")
    return TEST_REDIS_URL


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    """Settings for one test: its own instance folder and database."""
    return load_settings(
        {},
        instance_path=tmp_path / "instance",
        database_url=database_url,
        secret_key="test-secret-key-" + "x" * 32,
        log_level="WARNING",
    )


@pytest.fixture
def app(settings):
    """A web app whose schema is at head."""
    from paissive_income.db import migrate
    from paissive_income.web import create_app

    app = create_app(settings)
    app.config.update(TESTING=True)
    services = app.extensions["paissive"]
    migrate.upgrade(services.database.engine)
    yield app
    services.cache.close()
    services.database.dispose()


@pytest.fixture
def client(app):
    """A test client of ``app``."""
    return app.test_client()


CSRF_INPUT = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(html: str) -> str:
    """Return the first CSRF token in a page."""
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF token"
    return match.group(1) or match.group(2)


class AuthActions:
    """Register, log in and log out through the real forms."""

    def __init__(self, client) -> None:
        self.client = client

    def register(self, email: str = "owner@example.com", password: str = "correct horse battery"):
        page = self.client.get("/register").get_data(as_text=True)
        return self.client.post(
            "/register",
            data={
                "email": email,
                "password": password,
                "confirm": password,
                "csrf_token": csrf_token(page),
            },
        )

    def login(self, email: str = "owner@example.com", password: str = "correct horse battery"):
        page = self.client.get("/login").get_data(as_text=True)
        return self.client.post(
            "/login", data={"email": email, "password": password, "csrf_token": csrf_token(page)}
        )

    def logout(self):
        page = self.client.get("/account").get_data(as_text=True)
        return self.client.post("/logout", data={"csrf_token": csrf_token(page)})

    def token(self, name: str = "tests") -> str:
        """Create an API token through the account page and return its secret."""
        page = self.client.get("/account").get_data(as_text=True)
        html = self.client.post("/account", data={"name": name, "csrf_token": csrf_token(page)})
        match = re.search(r'<code id="new-token">([^<]+)</code>', html.get_data(as_text=True))
        assert match, "no token shown"
        return match.group(1)


@pytest.fixture
def auth(client) -> AuthActions:
    """Helpers to register and log in through the real forms."""
    return AuthActions(client)
