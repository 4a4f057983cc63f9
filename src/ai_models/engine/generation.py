"""The generation engine: dynamic batching of causal-LM decoding with per-request token streams.

One worker thread owns the model. Requests wait in a bounded ``WaitQueue`` whose cost is counted
in sequences (prompts × n); the worker takes up to ``max_batch_size`` of them (waiting
``batch_wait_s`` for more), and a ``BatchScheduler`` prefills them together, then decodes the
whole batch one token per step. Each step every sequence's new text goes to its own asyncio
queue, so streaming works inside a batch. Finished or abandoned sequences leave the batch at
once (their KV-cache slot is freed), and waiting requests join a running batch between steps
(prefilled into free slots, from the cached keys and values of a prompt prefix seen before when
there is one), so a slot freed by a client that disconnects is reused immediately.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import torch

from ai_models.engine.detokenize import IncrementalDetokenizer
from ai_models.engine.queue import Group, WaitQueue
from ai_models.engine.scheduler import BatchScheduler
from ai_models.engine.sequence import Delta, Sequence
from ai_models.errors import ModelServiceError
from ai_models.metrics import ModelMetrics

logger = logging.getLogger(__name__)

DEFAULT_PREFIX_CACHE_BYTES = 256 * 2**20  # prompt-prefix keys and values kept for reuse


class GenerationEngine:
    """Run ``Sequence``s through a causal LM in dynamic batches on a worker thread."""

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        stop_token_ids: list[int],
        max_batch_size: int,
        batch_wait_s: float,
        max_queue: int,
        metrics: ModelMetrics | None = None,
        prefix_cache_bytes: int = DEFAULT_PREFIX_CACHE_BYTES,
    ) -> None:
        self.tokenizer = tokenizer
        self.scheduler = BatchScheduler(
            model,
            pad_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0,
            stop_ids=set(stop_token_ids),
            max_batch_size=max_batch_size,
            metrics=metrics,
            prefix_cache_bytes=prefix_cache_bytes,
        )
        self.device = self.scheduler.device
        self.max_batch_size = max_batch_size
        self.batch_wait_s = batch_wait_s
        self.metrics = metrics
        self.queue: WaitQueue[Sequence] = WaitQueue(max_cost=max_queue, unit="sequences")
        self.running = 0
        self._thread = threading.Thread(target=self._work, name="generation-engine", daemon=True)
        self._thread.start()

    def reserve(self, cost: int) -> Group:
        """Hold a place for a request of ``cost`` sequences before they exist (429 when full)."""
        group = Group()
        self.queue.reserve(group, cost)
        self._update_gauges()
        return group

    def release(self, group: Group) -> None:
        """Give back a place that ``reserve`` held and ``submit`` never used."""
        self.queue.discard(group)
        self._update_gauges()

    def submit(self, sequences: list[Sequence], group: Group | None = None) -> None:
        """Queue one request's sequences (raise ``QueueFullError`` when the line is full)."""
        loop, outbox, group = asyncio.get_running_loop(), asyncio.Queue(), group or Group()
        for index, seq in enumerate(sequences):
            seq.index, seq.group, seq.loop, seq.outbox = index, group, loop, outbox
            seq.detokenizer = IncrementalDetokenizer(self.tokenizer, seq.prompt_ids)
            seq.generator = torch.Generator(device=self.device)
            if seq.params.seed is None:
                seq.generator.seed()
            else:  # each choice its own stream; seeds wrap into the generator's 64-bit range
                seq.generator.manual_seed((seq.params.seed + index) % 2**64)
        self.queue.put(sequences)
        self._update_gauges()

    async def stream(self, sequences: list[Sequence]) -> AsyncIterator[Delta]:
        """Yield the deltas of a submitted request; abandoning the iterator cancels it."""
        unfinished = len(sequences)
        try:
            while unfinished:
                event = await sequences[0].outbox.get()
                if isinstance(event, BaseException):
                    raise event
                yield event
                unfinished -= event.finish_reason is not None
        finally:
            for seq in sequences:
                if seq.finish_reason is None:
                    self.cancel(seq)

    def cancel(self, seq: Sequence) -> None:
        """Drop a sequence whose client went away; its slot frees at the next step."""
        seq.cancelled = True
        self.queue.discard(seq.group)
        self._update_gauges()

    def _update_gauges(self) -> None:
        if self.metrics:
            self.metrics.waiting.set(self.queue.waiting_groups)
            self.metrics.running.set(self.running)

    def _work(self) -> None:
        largest = last_run = 0
        with torch.inference_mode():
            while not self.queue.closed:
                if self.scheduler.batch is None:
                    # Wait for company only under load: a lone request starts at once.
                    wait_s = self.batch_wait_s if last_run > 1 else 0.0
                    joining = self.queue.take(self.max_batch_size, wait_s=wait_s)
                else:
                    self._guarded(self.scheduler.decode)
                    room = self.scheduler.room  # rows that just finished make room at once
                    joining = self.queue.take(room, wait_s=0, block=False) if room else []
                joining = [seq for seq in joining if not seq.cancelled]
                if joining:
                    self._guarded(functools.partial(self.scheduler.admit, joining), joining)
                largest = max(largest, self.running)
                if self.scheduler.batch is None:
                    last_run, largest = largest, 0

    def _guarded(
        self, step: Callable[[], list[tuple[Sequence, Delta]]], joining: list[Sequence] = ()
    ) -> None:
        """Run one scheduler step and deliver its events; a failure ends every sequence in it."""
        try:
            events: list[tuple[Sequence, Any]] = step()
        except Exception as exc:  # a failed forward pass ends every sequence of the batch
            logger.exception("generation batch failed")
            error = ModelServiceError(f"generation failed: {type(exc).__name__}: {exc}"[:300])
            failed = {id(seq): seq for seq in [*self.scheduler.abandon(), *joining]}
            events = []
            for seq in failed.values():
                if not seq.done:
                    seq.finish_reason = "error"
                    events.append((seq, error))
        self._deliver(events)
        self.running = len(self.scheduler.running)
        self._update_gauges()

    @staticmethod
    def _deliver(events: list[tuple[Sequence, Any]]) -> None:
        """Hand events to their sequences' event loops, one wake-up per loop."""
        by_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for seq, event in events:
            by_loop.setdefault(seq.loop, []).append((seq.outbox, event))
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_put_all, items)
            except RuntimeError:  # that event loop is gone; nobody is listening
                pass

    def close(self) -> None:
        """Stop the worker thread after its current batch."""
        self.queue.close()
        self._thread.join(timeout=10)


def _put_all(items: list[tuple[asyncio.Queue, Any]]) -> None:
    for outbox, event in items:
        outbox.put_nowait(event)
