"""A bounded, thread-safe waiting line of work units, taken in batches by one worker thread.

Requests put their units in atomically as a group; the bound counts waiting groups (requests),
so one request with many inputs is never refused for its size alone. The worker takes up to
``n`` units, waiting at most ``wait_s`` after the first one for more to arrive (dynamic batching).
A request that goes away ``discard``s its group, which frees its place at once.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Generic, Protocol, TypeVar

from ai_models.errors import QueueFullError


class Group:
    """The units of one request still waiting in a queue."""

    __slots__ = ("waiting",)

    def __init__(self) -> None:
        self.waiting = 0


class Unit(Protocol):
    """A unit of work that knows its request's group."""

    group: Group


U = TypeVar("U", bound=Unit)


class WaitQueue(Generic[U]):
    """The units waiting for the worker, bounded by the number of waiting requests."""

    def __init__(self, *, max_groups: int, retry_after: int = 1) -> None:
        self.max_groups = max_groups
        self.retry_after = retry_after
        self._units: collections.deque[U] = collections.deque()
        self._groups = 0
        self._cond = threading.Condition()
        self._closed = False

    @property
    def waiting_groups(self) -> int:
        """Return how many requests have units waiting."""
        return self._groups

    def __len__(self) -> int:
        return len(self._units)

    def put(self, units: list[U]) -> None:
        """Add one request's units; raise ``QueueFullError`` when the line is full."""
        if not units:
            return
        with self._cond:
            if self._closed:
                raise QueueFullError("the server is shutting down", retry_after=self.retry_after)
            if self._groups >= self.max_groups:
                raise QueueFullError(
                    f"the server is busy: {self._groups} requests are waiting "
                    f"(MAX_QUEUE_SIZE={self.max_groups}); retry later",
                    retry_after=self.retry_after,
                )
            units[0].group.waiting += len(units)
            self._groups += 1
            self._units.extend(units)
            self._cond.notify()

    def take(self, n: int, *, wait_s: float, block: bool = True) -> list[U]:
        """Return up to ``n`` units; block for the first, then wait ``wait_s`` for more."""
        with self._cond:
            while block and not self._closed and not self._units:
                self._cond.wait()
            deadline = time.monotonic() + wait_s
            while self._units and not self._closed and len(self._units) < n:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            taken = [self._units.popleft() for _ in range(min(n, len(self._units)))]
            for unit in taken:
                self._release(unit.group, 1)
            return taken

    def discard(self, group: Group) -> None:
        """Drop the waiting units of ``group`` (its request went away)."""
        with self._cond:
            if group.waiting:
                kept = [unit for unit in self._units if unit.group is not group]
                self._units = collections.deque(kept)
                self._release(group, group.waiting)
            self._cond.notify_all()

    def _release(self, group: Group, count: int) -> None:
        group.waiting -= count
        if group.waiting == 0:
            self._groups -= 1

    def close(self) -> None:
        """Stop waiting: ``take`` returns at once from now on and ``put`` refuses."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Tell whether the queue was closed."""
        return self._closed
