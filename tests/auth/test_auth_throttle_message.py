"""A throttled login is told the real time left, read from the window the throttle stored."""

import re
import uuid

import pytest

from paissive_income.auth.throttle import LoginThrottle, wait_message
from paissive_income.cache import DiskCache, RedisCache
from web_support import csrf_token


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["disk", "redis"])
def cache(request, tmp_path):
    if request.param == "disk":
        backend = DiskCache(tmp_path / "cache")
    else:
        url = request.getfixturevalue("redis_url")
        backend = RedisCache(url, prefix=f"test-{uuid.uuid4().hex}:")
    yield backend
    backend.close()


def _throttle(cache, clock, window=900) -> LoginThrottle:
    return LoginThrottle(
        cache=cache, max_per_account=5, max_per_ip=20, window_seconds=window, clock=clock
    )


@pytest.mark.parametrize(
    ("seconds", "message"),
    [
        (900, "Too many attempts. Try again in 15 minutes."),
        (840, "Too many attempts. Try again in 14 minutes."),
        (841, "Too many attempts. Try again in 15 minutes."),  # never sooner than true
        (61, "Too many attempts. Try again in 2 minutes."),
        (60, "Too many attempts. Try again in 1 minute."),
        (59.2, "Too many attempts. Try again in 60 seconds."),
        (1, "Too many attempts. Try again in 1 second."),
        (0.01, "Too many attempts. Try again in 1 second."),
    ],
)
def test_wait_message_rounds_up(seconds, message):
    assert wait_message(seconds) == message


def test_refusal_tells_the_time_left_in_the_window(cache):
    clock = Clock()
    throttle = _throttle(cache, clock)
    email, ip = "owner@example.com", "10.0.0.1"
    for _ in range(5):
        assert throttle.reserve(email=email, ip=ip).allowed
    clock.now += 60  # the window opened with the first attempt, a minute ago
    refused = throttle.reserve(email=email, ip=ip)
    assert not refused.allowed
    assert refused.retry_after == 840
    assert refused.message == "Too many attempts. Try again in 14 minutes."
    clock.now += 830
    assert (
        throttle.reserve(email=email, ip=ip).message
        == "Too many attempts. Try again in 10 seconds."
    )


def test_the_longer_of_account_and_ip_waits_is_told(cache):
    clock = Clock()
    throttle = LoginThrottle(
        cache=cache, max_per_account=5, max_per_ip=2, window_seconds=600, clock=clock
    )
    throttle.reserve(email="a@example.com", ip="10.0.0.2")  # the IP's window opens now
    clock.now += 300
    throttle.reserve(email="b@example.com", ip="10.0.0.2")
    for _ in range(4):
        throttle.reserve(email="b@example.com", ip="10.0.0.3")  # b's window opened at +300
    refused = throttle.reserve(email="b@example.com", ip="10.0.0.2")
    # IP: 300 s left; account b (6th attempt, over 5): 600 s left.
    assert refused.retry_after == 600


def test_unlock_clears_the_account_on_this_backend(cache):
    clock = Clock()
    throttle = _throttle(cache, clock)
    for i in range(6):
        throttle.reserve(email="owner@example.com", ip=f"10.0.1.{i}")
    assert not throttle.reserve(email="owner@example.com", ip="10.0.2.1").allowed
    throttle.unlock(email="OWNER@example.com")  # the account key ignores case, as login does
    assert throttle.reserve(email="owner@example.com", ip="10.0.2.1").allowed
    for _ in range(4):
        throttle.reserve(email="owner@example.com", ip="10.0.2.1")
    # A fresh window after the unlock: its end is stored again, so the wait is exact.
    assert throttle.reserve(email="owner@example.com", ip="10.0.2.1").retry_after == 900


def test_unlock_leaves_other_accounts_and_ips_alone(cache):
    throttle = _throttle(cache, Clock())
    for i in range(6):
        throttle.reserve(email="other@example.com", ip=f"10.0.3.{i}")
    throttle.unlock(email="owner@example.com")
    assert not throttle.reserve(email="other@example.com", ip="10.0.4.1").allowed


def test_login_page_says_the_real_wait_and_sends_retry_after(app, client, auth):
    auth.register()
    auth.logout()
    limit = app.extensions["paissive"].settings.login_max_attempts_per_account
    for _ in range(limit):
        auth.login(password="wrong password!")
    blocked = auth.login()
    body = blocked.get_data(as_text=True)
    assert blocked.status_code == 429
    retry_after = int(blocked.headers["Retry-After"])
    # The window (900 s) opened with the first failed attempt, moments ago.
    assert 600 < retry_after <= 900
    assert wait_message(retry_after) in body and "a few minutes" not in body


def test_password_change_throttle_says_the_real_wait(app, client, auth):
    auth.register()
    limit = app.extensions["paissive"].settings.login_max_attempts_per_account
    for _ in range(limit + 1):
        page = client.get("/account").get_data(as_text=True)
        data = {"current": "wrong password!", "new": "x" * 12, "confirm": "x" * 12}
        response = client.post("/account/password", data={**data, "csrf_token": csrf_token(page)})
    assert response.status_code == 429
    assert re.search(
        r"Too many attempts\. Try again in 1[0-5] minutes\.", response.get_data(as_text=True)
    )
