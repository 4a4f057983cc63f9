"""Dynamic batching for one-shot models (embeddings, classification).

Concurrent requests put their inputs in one ``WaitQueue``; a worker thread takes up to
``max_batch_size`` inputs, waiting at most ``batch_wait_s`` for more, runs them through the model
function and hands each request its own results. With ``max_batch_tokens`` (and a ``size`` per
input), the inputs taken are sorted by length and cut into model calls of at most that many
padded tokens, so short texts do not pay for a long one's padding.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ai_models.engine.queue import Group, WaitQueue
from ai_models.errors import ModelServiceError
from ai_models.metrics import ModelMetrics

logger = logging.getLogger(__name__)


class _Job:
    """One request: its results so far and the future its handler awaits."""

    def __init__(self, size: int, loop: asyncio.AbstractEventLoop) -> None:
        self.group = Group()
        self.results: list[Any] = [None] * size
        self.remaining = size
        self.loop = loop
        self.future: asyncio.Future = loop.create_future()
        self.cancelled = False

    def settle(self, result: Any = None, error: BaseException | None = None) -> None:
        """Resolve the future from any thread, unless it is already done."""

        def _set() -> None:
            if not self.future.done():
                if error is not None:
                    self.future.set_exception(error)
                else:
                    self.future.set_result(result)

        self.loop.call_soon_threadsafe(_set)


class _Item:
    __slots__ = ("group", "job", "index", "payload", "size")

    def __init__(self, job: _Job, index: int, payload: Any, size: int) -> None:
        self.group, self.job, self.index, self.payload = job.group, job, index, payload
        self.size = size


def split_by_tokens(sizes: Sequence[int], max_tokens: int) -> list[list[int]]:
    """Return index groups, shortest first, each padding to at most ``max_tokens`` tokens.

    A group pads every member to its longest one, so it costs ``len(group) * longest``; an
    input longer than ``max_tokens`` runs alone.
    """
    order = sorted(range(len(sizes)), key=sizes.__getitem__)
    groups: list[list[int]] = []
    current: list[int] = []
    for i in order:  # ascending sizes: the newest member is the longest
        if current and (len(current) + 1) * max(sizes[i], 1) > max_tokens:
            groups.append(current)
            current = []
        current.append(i)
    if current:
        groups.append(current)
    return groups


class DynamicBatcher:
    """Run ``fn`` over batches of inputs gathered from concurrent requests."""

    def __init__(
        self,
        fn: Callable[[list[Any]], Sequence[Any]],
        *,
        task: str,
        max_batch_size: int,
        batch_wait_s: float,
        max_queue: int,
        metrics: ModelMetrics | None = None,
        max_batch_tokens: int | None = None,
        size: Callable[[Any], int] = len,
    ) -> None:
        self.fn = fn
        self.task = task
        self.max_batch_size = max_batch_size
        self.max_batch_tokens = max_batch_tokens
        self.size = size
        self.batch_wait_s = batch_wait_s
        self.metrics = metrics
        self.queue: WaitQueue[_Item] = WaitQueue(max_cost=max_queue)
        self._thread = threading.Thread(target=self._work, name=f"batcher-{task}", daemon=True)
        self._thread.start()

    async def run(self, payloads: list[Any]) -> list[Any]:
        """Return ``fn``'s outputs for ``payloads``, computed in shared batches."""
        if not payloads:
            return []
        job = _Job(len(payloads), asyncio.get_running_loop())
        sized = self.max_batch_tokens is not None
        items = [
            _Item(job, i, payload, self.size(payload) if sized else 1)
            for i, payload in enumerate(payloads)
        ]
        self.queue.put(items, cost=1)
        self._update_gauges()
        try:
            return await job.future
        finally:
            if not job.future.done() or job.future.cancelled():
                job.cancelled = True
                self.queue.discard(job.group)
                self._update_gauges()

    def _update_gauges(self, running: int = 0) -> None:
        if self.metrics:
            self.metrics.waiting.set(self.queue.waiting_groups)
            self.metrics.running.set(running)

    def _work(self) -> None:
        last_size = 0
        while not self.queue.closed:
            # Wait for company only under load: a lone request runs at once (no added latency).
            wait_s = self.batch_wait_s if last_size > 1 else 0.0
            taken = self.queue.take(self.max_batch_size, wait_s=wait_s)
            last_size = len(taken)
            if self.max_batch_tokens is None:
                self._run_live(taken)
                continue
            for group in split_by_tokens([item.size for item in taken], self.max_batch_tokens):
                self._run_live([taken[i] for i in group])

    def _run_live(self, items: list[_Item]) -> None:
        items = [item for item in items if not item.job.cancelled]
        if items:
            self._run_batch(items)

    def _run_batch(self, items: list[_Item]) -> None:
        jobs = {id(item.job): item.job for item in items}
        self._update_gauges(running=len(jobs))
        if self.metrics:
            self.metrics.batch(self.task, len(items))
        try:
            outputs = self.fn([item.payload for item in items])
        except Exception as exc:  # the model failed: every request in the batch hears why
            logger.exception("%s batch failed", self.task)
            error = ModelServiceError(f"the model failed on this batch: {type(exc).__name__}")
            for job in jobs.values():
                job.cancelled = True  # its other inputs need not run
                job.settle(error=error)
        else:
            for item, output in zip(items, outputs, strict=True):
                job = item.job
                job.results[item.index] = output
                job.remaining -= 1
                if job.remaining == 0:
                    job.settle(job.results)
        self._update_gauges()

    def close(self) -> None:
        """Stop the worker thread after the current batch."""
        self.queue.close()
        self._thread.join(timeout=5)
