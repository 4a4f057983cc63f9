"""Fixtures of the auth tests: an app whose login throttle counts on disk or in Redis."""

import pytest

from paissive_income.db import migrate
from paissive_income.web import create_app


@pytest.fixture(params=["disk", "redis"])
def throttled_app(request, settings):
    """An app whose login throttle counts in the disk cache or in Redis."""
    if request.param == "redis":
        settings = settings.model_copy(update={"redis_url": request.getfixturevalue("redis_url")})
    app = create_app(settings)
    services = app.extensions["paissive"]
    assert services.cache.name == request.param
    migrate.upgrade(services.database.engine)
    yield app
    services.cache.close()
    services.database.dispose()
