"""A bounded, thread-safe waiting line of work units, taken in batches by one worker thread.

Requests put their units in atomically as a group. The bound is a *cost*: each request states
what it costs when it joins (the generation engine: one per sequence, prompts × n; the one-shot
batcher: one per request), and the line refuses a request whose cost does not fit. A request may
``reserve`` its place before its units exist (while its JSON grammar compiles), so that work is
admitted and bounded like the rest. The worker takes up to ``n`` units, waiting at most ``wait_s``
after the first one for more to arrive (dynamic batching). A request that goes away ``discard``s
its group, which frees its place at once.
"""

from __future__ import annotations

import collections
import threading
import time
from typing import Generic, Protocol, TypeVar

from ai_models.errors import InvalidRequestError, QueueFullError


class Group:
    """One request in a queue: its units still waiting and the cost it holds against the bound."""

    __slots__ = ("waiting", "cost")

    def __init__(self) -> None:
        self.waiting = 0
        self.cost = 0


class Unit(Protocol):
    """A unit of work that knows its request's group."""

    group: Group


U = TypeVar("U", bound=Unit)


class WaitQueue(Generic[U]):
    """The units waiting for the worker, bounded by the summed cost of the waiting requests."""

    def __init__(self, *, max_cost: int, unit: str = "requests", retry_after: int = 1) -> None:
        self.max_cost = max_cost
        self.unit = unit
        self.retry_after = retry_after
        self._units: collections.deque[U] = collections.deque()
        self._groups = 0
        self._cost = 0
        self._cond = threading.Condition()
        self._closed = False

    @property
    def waiting_groups(self) -> int:
        """Return how many requests hold a place (units waiting or reserved)."""
        return self._groups

    @property
    def waiting_cost(self) -> int:
        """Return the summed cost of the requests holding a place."""
        return self._cost

    def __len__(self) -> int:
        return len(self._units)

    def reserve(self, group: Group, cost: int) -> None:
        """Hold a place of ``cost`` for ``group``; raise ``QueueFullError`` when it does not fit."""
        with self._cond:
            self._admit(group, cost)

    def put(self, units: list[U], cost: int | None = None) -> None:
        """Add one request's units (cost: ``len(units)`` unless given or reserved before)."""
        if not units:
            return
        group = units[0].group
        with self._cond:
            self._admit(group, len(units) if cost is None else cost)
            group.waiting += len(units)
            self._units.extend(units)
            self._cond.notify()

    def _admit(self, group: Group, cost: int) -> None:
        if self._closed:
            raise QueueFullError("the server is shutting down", retry_after=self.retry_after)
        if group.cost:  # reserved before
            return
        if cost > self.max_cost:
            raise InvalidRequestError(
                f"this request costs {cost} {self.unit} but at most {self.max_cost} may wait "
                f"(MAX_QUEUE_SIZE={self.max_cost}); split it into smaller requests"
            )
        if self._cost + cost > self.max_cost:
            raise QueueFullError(
                f"the server is busy: {self._cost} {self.unit} are waiting and this request "
                f"needs {cost} more (MAX_QUEUE_SIZE={self.max_cost}); retry later",
                retry_after=self.retry_after,
            )
        group.cost = max(cost, 1)
        self._cost += group.cost
        self._groups += 1

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
                unit.group.waiting -= 1
                if not unit.group.waiting:
                    self._release(unit.group)
            return taken

    def discard(self, group: Group) -> None:
        """Drop the waiting units of ``group`` and free its place (its request went away)."""
        with self._cond:
            if group.waiting:
                kept = [unit for unit in self._units if unit.group is not group]
                self._units = collections.deque(kept)
                group.waiting = 0
            self._release(group)
            self._cond.notify_all()

    def _release(self, group: Group) -> None:
        if group.cost:
            self._cost -= group.cost
            self._groups -= 1
            group.cost = 0

    def close(self) -> None:
        """Stop waiting: ``take`` returns at once from now on and ``put`` refuses."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        """Tell whether the queue was closed."""
        return self._closed
