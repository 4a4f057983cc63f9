"""The generation engine: dynamic batching of causal-LM decoding with per-request token streams.

One worker thread owns the model. Requests wait in a bounded ``WaitQueue``; the worker takes up
to ``max_batch_size`` of them (waiting ``batch_wait_s`` for more), prefills them together with
left padding, then decodes the whole batch one token per step. Each step every sequence's new
text goes to its own asyncio queue, so streaming works inside a batch. Finished or abandoned
sequences leave the batch at once (their rows are cut from the KV cache), and waiting requests
join a running batch between steps (their cache is prefilled, left-padded and stacked on), so a
slot freed by a client that disconnects is reused immediately.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import torch

from ai_models.engine.detokenize import IncrementalDetokenizer
from ai_models.engine.grammar import CLOSING_ALLOWANCE, GrammarState
from ai_models.engine.kv import Batch
from ai_models.engine.queue import Group, WaitQueue
from ai_models.engine.sampling import SamplingParams, choose_tokens
from ai_models.errors import ModelServiceError
from ai_models.metrics import ModelMetrics

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Delta:
    """New text of sequence ``index`` of a request; ``finish_reason`` is set on its last delta."""

    index: int
    text: str
    completion_tokens: int
    finish_reason: str | None = None


class Sequence:
    """One generation in flight: prompt, parameters, decoding state and its outbox."""

    def __init__(
        self,
        prompt_ids: list[int],
        params: SamplingParams,
        *,
        grammar: GrammarState | None = None,
        context_length: int,
    ) -> None:
        self.group = Group()
        self.index = 0
        self.prompt_ids = prompt_ids
        self.params = params
        self.grammar = grammar
        limit = context_length - len(prompt_ids)
        extra = CLOSING_ALLOWANCE if grammar is not None else 0
        self.hard_limit = min(params.max_tokens + extra, limit)
        self.generated: list[int] = []
        self.text = ""
        self.sent = 0
        self.finish_reason: str | None = None
        self.cancelled = False
        self.arrival = time.monotonic()
        self.first_token_at: float | None = None
        self.generator: torch.Generator | None = None
        self.detokenizer: IncrementalDetokenizer | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.outbox: asyncio.Queue | None = None

    @property
    def done(self) -> bool:
        """Tell whether the sequence needs no more steps."""
        return self.finish_reason is not None or self.cancelled

    def accept(self, token: int, stop_ids: set[int]) -> Delta | None:
        """Record a generated token; return the text now safe to send, if any."""
        self.generated.append(token)
        if self.first_token_at is None:
            self.first_token_at = time.monotonic()
        if self.grammar is not None and not self.grammar.accept(token):
            self.finish_reason = "stop"  # cannot happen with a correct mask; end cleanly
        elif token in stop_ids and (self.grammar is not None or not self.params.ignore_eos):
            self.finish_reason = "stop"
        else:
            self.text += self.detokenizer.step(token)
            self._check_limits()
        if self.finish_reason is not None:
            self.text += self.detokenizer.flush()
        return self._delta()

    def _check_limits(self) -> None:
        if self.params.stop and self.grammar is None:
            start = max(0, self.sent - max(map(len, self.params.stop)))
            hits = [i for s in self.params.stop if (i := self.text.find(s, start)) >= 0]
            if hits:
                self.text = self.text[: min(hits)]
                self.finish_reason = "stop"
                return
        count = len(self.generated)
        if count >= self.hard_limit or (count >= self.params.max_tokens and self.grammar is None):
            self.finish_reason = "length"

    def _delta(self) -> Delta | None:
        end = len(self.text)
        if self.finish_reason is None and self.params.stop and self.grammar is None:
            end -= max(map(len, self.params.stop)) - 1  # hold back a possible stop's prefix
        if end <= self.sent and self.finish_reason is None:
            return None
        text, self.sent = self.text[self.sent : max(end, self.sent)], max(end, self.sent)
        return Delta(self.index, text, len(self.generated), self.finish_reason)


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
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.device = next(model.parameters()).device
        self.stop_ids = set(stop_token_ids)
        self._stop_tensor = torch.tensor(sorted(self.stop_ids), dtype=torch.long)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self.max_batch_size = max_batch_size
        self.batch_wait_s = batch_wait_s
        self.metrics = metrics
        self.queue: WaitQueue[Sequence] = WaitQueue(max_groups=max_queue)
        self.running = 0
        self._thread = threading.Thread(target=self._work, name="generation-engine", daemon=True)
        self._thread.start()

    def submit(self, sequences: list[Sequence]) -> None:
        """Queue one request's sequences (raise ``QueueFullError`` when the line is full)."""
        loop, outbox = asyncio.get_running_loop(), asyncio.Queue()
        for index, seq in enumerate(sequences):
            seq.index, seq.group, seq.loop, seq.outbox = index, sequences[0].group, loop, outbox
            seq.detokenizer = IncrementalDetokenizer(self.tokenizer, seq.prompt_ids)
            seq.generator = torch.Generator(device=self.device)
            if seq.params.seed is None:
                seq.generator.seed()
            else:
                seq.generator.manual_seed(seq.params.seed + index)
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
        last_size = 0
        with torch.inference_mode():
            while not self.queue.closed:
                # Wait for company only under load: a lone request starts at once.
                wait_s = self.batch_wait_s if last_size > 1 else 0.0
                taken = self.queue.take(self.max_batch_size, wait_s=wait_s)
                fresh = [s for s in taken if not s.cancelled]
                if fresh:
                    last_size = self._run(fresh)

    def _run(self, fresh: list[Sequence]) -> int:
        """Run sequences until all are done, admitting newcomers; return the largest batch."""
        members = list(fresh)  # everything taken from the queue in this run, joiners included
        largest = len(fresh)
        try:
            batch: Batch | None = self._prefill(fresh)
            while batch is not None and batch.size:
                self._decode(batch)
                batch = self._admit(batch, members)
                largest = max(largest, batch.size if batch else 0)
        except Exception as exc:  # a failed forward pass ends every sequence of the batch
            logger.exception("generation batch failed")
            error = ModelServiceError(f"generation failed: {type(exc).__name__}: {exc}"[:300])
            for seq in members:
                if not seq.done:
                    seq.finish_reason = "error"
                    self._deliver([(seq, error)])
        finally:
            self.running = 0
            self._update_gauges()
        return largest

    def _prefill(self, sequences: list[Sequence]) -> Batch:
        batch = Batch.from_prompts(self.model, sequences, pad_id=self.pad_id, device=self.device)
        if self.metrics:
            self.metrics.iteration_tokens.observe(sum(len(s.prompt_ids) for s in sequences))
        logits = batch.prefill()
        self._step(batch, logits)
        return batch

    def _decode(self, batch: Batch) -> None:
        if self.metrics:
            self.metrics.iteration_tokens.observe(batch.size)
        self._step(batch, batch.forward())

    def _step(self, batch: Batch, logits: torch.Tensor) -> None:
        rows = batch.sequences
        for seq in rows:
            if seq.grammar is not None:
                seq.grammar.update_closing(seq.params.max_tokens - len(seq.generated))
        tokens = choose_tokens(logits, rows, self._stop_tensor)
        events = []
        for seq, token in zip(rows, tokens, strict=True):
            if seq.cancelled:
                continue
            first = seq.first_token_at is None
            delta = seq.accept(token, self.stop_ids)
            if first and self.metrics:
                self.metrics.ttft.observe(seq.first_token_at - seq.arrival)
            if delta is not None:
                events.append((seq, delta))
        if self.metrics:
            self.metrics.generation_tokens.inc(sum(1 for seq in rows if not seq.cancelled))
            self.metrics.batch("generation", len(rows))
        self._deliver(events)
        batch.set_next_tokens(tokens)
        batch.drop([i for i, seq in enumerate(rows) if seq.done])
        self.running = batch.size
        self._update_gauges()

    def _admit(self, batch: Batch, members: list[Sequence]) -> Batch | None:
        """Stack waiting requests onto the running batch; None when nothing is left to run."""
        room = self.max_batch_size - batch.size
        if not room or not len(self.queue) or not batch.can_merge:
            return batch if batch.size else None
        joining = [s for s in self.queue.take(room, wait_s=0, block=False) if not s.cancelled]
        if not joining:
            return batch if batch.size else None
        members.extend(joining)
        newcomers = self._prefill(joining)
        if not batch.size:
            return newcomers
        batch.merge(newcomers)
        self.running = batch.size
        return batch

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
