"""Login limits hold under simultaneous attempts: disk cache and Redis, SQLite and PostgreSQL."""

import uuid
from collections import Counter

from auth_admin_support import unique_ip

from web_support import AuthActions, concurrently, csrf_token


def _attempt(app, ip: str, email: str, password: str):
    """Return an action that logs in on its own client once every thread is ready."""

    def action(_i: int, go) -> int:
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = ip
        token = csrf_token(client.get("/login").get_data(as_text=True))
        go()
        data = {"email": email, "password": password, "csrf_token": token}
        return client.post("/login", data=data).status_code

    return action


def test_simultaneous_wrong_passwords_check_at_most_the_account_limit(throttled_app):
    email = f"{uuid.uuid4().hex}@example.com"
    owner = AuthActions(throttled_app.test_client())
    owner.register(email)
    owner.logout()

    def action(i: int, go) -> int:
        # From 30 addresses (a botnet), so only the account's limit applies.
        return _attempt(throttled_app, unique_ip(), email, "wrong!")(i, go)

    statuses = Counter(concurrently(30, action))
    # Exactly as many password checks (401) as the limit allows; the rest never reach Argon2.
    assert statuses == {401: 5, 429: 25}


def test_simultaneous_attempts_from_one_ip_check_at_most_the_ip_limit(throttled_app):
    ip, prefix = unique_ip(), uuid.uuid4().hex

    def action(i: int, go) -> int:
        return _attempt(throttled_app, ip, f"{prefix}-{i}@example.com", "wrong!")(i, go)

    statuses = Counter(concurrently(60, action))
    assert statuses == {401: 20, 429: 40}


def test_successful_logins_do_not_use_up_the_ip_limit(throttled_app):
    email = f"{uuid.uuid4().hex}@example.com"
    client = throttled_app.test_client()
    client.environ_base["REMOTE_ADDR"] = unique_ip()
    user = AuthActions(client)
    user.register(email)
    limit = throttled_app.extensions["paissive"].settings.login_max_attempts_per_ip
    for _ in range(limit + 5):
        user.logout()
        assert user.login(email).status_code == 302
