"""Login throttling per client IP and per account, counted in the shared cache."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from paissive_income.cache import Cache


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.lower().encode()).hexdigest()[:32]
    return f"login-fail:{kind}:{digest}"


@dataclass(frozen=True)
class LoginThrottle:
    """Refuse logins after too many failures from one IP or against one account."""

    cache: Cache
    max_per_account: int
    max_per_ip: int
    window_seconds: int

    def is_blocked(self, *, email: str, ip: str) -> bool:
        """Say whether a login attempt from ``ip`` for ``email`` must be refused now."""
        account = self.cache.get(_key("account", email), 0)
        by_ip = self.cache.get(_key("ip", ip), 0)
        return account >= self.max_per_account or by_ip >= self.max_per_ip

    def record_failure(self, *, email: str, ip: str) -> None:
        """Count one failed attempt against both the account and the IP."""
        self.cache.incr(_key("account", email), self.window_seconds)
        self.cache.incr(_key("ip", ip), self.window_seconds)

    def reset_account(self, email: str) -> None:
        """Forget failures against an account after a successful login."""
        self.cache.delete(_key("account", email))
