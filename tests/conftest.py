"""Shared fixtures: settings, app and client on SQLite always, PostgreSQL/Redis when configured."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
from argon2 import PasswordHasher
from sqlalchemy import create_engine, text

from browser_support import chromium  # noqa: F401  (the fixture, for every browser test)
from paissive_income.auth import passwords
from paissive_income.config import Settings, load_settings
from web_support import AuthActions

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL")


def _worker_redis_url(url: str | None) -> str | None:
    """Give each pytest-xdist worker a Redis database of its own (gw0 the given one, gw1 the
    one below it, …), so queue names and keys of parallel tests never meet."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not url or not worker.startswith("gw"):
        return url
    parts = urlsplit(url)
    db = int(parts.path.strip("/") or 0) - int(worker[2:])
    if db < 0:
        raise pytest.UsageError(f"TEST_REDIS_URL: no Redis database left for worker {worker}")
    return urlunsplit(parts._replace(path=f"/{db}"))


TEST_REDIS_URL = _worker_redis_url(os.environ.get("TEST_REDIS_URL"))

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
        open_registration=True,  # tests register several users; tests/auth test the closed default
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


@pytest.fixture
def auth(client) -> AuthActions:
    """Helpers to register and log in through the real forms."""
    return AuthActions(client)


# Argon2id at its cheapest: the production profile (RFC 9106 low memory) costs about 0.1 s a hash,
# paid on every registration and login of the suite. The hashing itself is the same code.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
FAST_DUMMY_HASH = FAST_HASHER.hash("paissive-income-timing-equaliser")


@pytest.fixture(autouse=True)
def fast_password_hashing(request, monkeypatch) -> None:
    """Hash passwords cheaply in tests, except those marked ``production_hashing``."""
    if request.node.get_closest_marker("production_hashing"):
        return
    monkeypatch.setattr(passwords, "_hasher", FAST_HASHER)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", FAST_DUMMY_HASH)
