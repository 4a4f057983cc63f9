"""Login throttling per client IP and per account, counted atomically in the shared cache.

Each attempt reserves its place *before* the slow password check: the counters are raised by
one atomic increment and the attempt goes ahead only if both stay within their limits. So any
number of simultaneous attempts checks at most ``max_per_account`` passwords per account and
``max_per_ip`` per client IP in a window, on every worker sharing the cache.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from paissive_income.cache import Cache
from paissive_income.context import services


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login-attempt:{kind}:{digest}"


@dataclass(frozen=True)
class LoginThrottle:
    """Refuse logins after too many attempts from one IP or against one account."""

    cache: Cache
    max_per_account: int
    max_per_ip: int
    window_seconds: int

    def reserve(self, *, email: str, ip: str) -> bool:
        """Count one attempt against the account and the IP; say whether it may go ahead."""
        account = self.cache.incr(_key("account", email), self.window_seconds)
        by_ip = self.cache.incr(_key("ip", ip), self.window_seconds)
        return account <= self.max_per_account and by_ip <= self.max_per_ip

    def succeeded(self, *, email: str, ip: str) -> None:
        """Forget the account's attempts and give back this attempt's place on the IP."""
        self.cache.delete(_key("account", email))
        self.cache.release(_key("ip", ip))


def login_throttle() -> LoginThrottle:
    """Return the login throttle of the current app, on its cache and settings."""
    found = services()
    settings = found.settings
    return LoginThrottle(
        cache=found.cache,
        max_per_account=settings.login_max_attempts_per_account,
        max_per_ip=settings.login_max_attempts_per_ip,
        window_seconds=settings.login_throttle_window_seconds,
    )
