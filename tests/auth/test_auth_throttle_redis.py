"""With REDIS_URL set, login throttling is shared by every worker and replica."""

import uuid

from paissive_income.db import migrate
from paissive_income.web import create_app
from web_support import AuthActions


def test_failures_on_one_worker_block_logins_on_another(settings, redis_url):
    # A fresh Redis db number is not guaranteed, so each test uses unique emails and IPs.
    shared = settings.model_copy(update={"redis_url": redis_url})
    first, second = create_app(shared), create_app(shared)
    migrate.upgrade(first.extensions["paissive"].database.engine)
    assert first.extensions["paissive"].cache.name == "redis"
    email = f"{uuid.uuid4().hex}@example.com"
    worker_a = AuthActions(first.test_client())
    worker_a.register(email)
    worker_a.logout()
    ip = {"REMOTE_ADDR": f"10.{uuid.uuid4().int % 250}.0.1"}
    worker_a.client.environ_base.update(ip)
    for _ in range(shared.login_max_attempts_per_account):
        assert worker_a.login(email, password="wrong password!").status_code == 401
    worker_b = AuthActions(second.test_client())
    assert worker_b.login(email).status_code == 429
    for app in (first, second):
        app.extensions["paissive"].cache.close()
