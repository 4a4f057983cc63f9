"""Login throttling per client IP and per account, counted atomically in the shared cache.

Each attempt reserves its place *before* the slow password check: the counters are raised by
one atomic increment and the attempt goes ahead only if both stay within their limits. So any
number of simultaneous attempts checks at most ``max_per_account`` passwords per account and
``max_per_ip`` per client IP in a window, on every worker sharing the cache.

The attempt that opens a window (its count is 1) also stores when the window ends, so a
refused attempt is told the real time left rather than "a few minutes".
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from paissive_income.cache import Cache
from paissive_income.context import services


def _key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.lower().encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"login-attempt:{kind}:{digest}"


def _ends_key(kind: str, value: str) -> str:
    return _key(kind, value).replace("login-attempt:", "login-window-ends:", 1)


def wait_message(seconds: float) -> str:
    """Return the refusal shown to a throttled user, with the wait rounded up."""
    if seconds < 60:
        amount, unit = max(1, math.ceil(seconds)), "second"
    else:
        amount, unit = math.ceil(seconds / 60), "minute"
    return f"Too many attempts. Try again in {amount} {unit}{'' if amount == 1 else 's'}."


@dataclass(frozen=True)
class Reservation:
    """Whether an attempt may go ahead and, if not, how many seconds until it may."""

    allowed: bool
    retry_after: float = 0.0

    @property
    def message(self) -> str:
        """Return what to tell the user when the attempt is refused."""
        return wait_message(self.retry_after)


@dataclass(frozen=True)
class LoginThrottle:
    """Refuse logins after too many attempts from one IP or against one account."""

    cache: Cache
    max_per_account: int
    max_per_ip: int
    window_seconds: int
    clock: Callable[[], float] = time.time

    def reserve(self, *, email: str, ip: str) -> Reservation:
        """Count one attempt against the account and the IP; say whether it may go ahead."""
        waits = [
            self._count(kind, value, limit)
            for kind, value, limit in (
                ("account", email, self.max_per_account),
                ("ip", ip, self.max_per_ip),
            )
        ]
        refused = [wait for wait in waits if wait is not None]
        return Reservation(allowed=not refused, retry_after=max(refused, default=0.0))

    def _count(self, kind: str, value: str, limit: int) -> float | None:
        """Count one attempt; return None if within ``limit``, else the seconds left."""
        count = self.cache.incr(_key(kind, value), self.window_seconds)
        if count == 1:
            ends = self.clock() + self.window_seconds
            self.cache.set(_ends_key(kind, value), ends, self.window_seconds)
        if count <= limit:
            return None
        # Missing only if the window was cleared meanwhile: then the longest wait is honest.
        ends = self.cache.get(_ends_key(kind, value))
        left = self.window_seconds if ends is None else ends - self.clock()
        return min(max(left, 1.0), float(self.window_seconds))

    def succeeded(self, *, email: str, ip: str) -> None:
        """Forget the account's attempts and give back this attempt's place on the IP."""
        self.unlock(email=email)
        self.cache.release(_key("ip", ip))

    def unlock(self, *, email: str) -> None:
        """Forget every attempt against the account (an admin unlocks it)."""
        # The window's end first: an attempt counting in between then re-creates both.
        self.cache.delete(_ends_key("account", email))
        self.cache.delete(_key("account", email))


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
