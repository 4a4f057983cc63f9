"""Continuous batching, one step at a time: the running batch decodes a token and finished rows
leave (``BatchScheduler.decode``); newcomers are prefilled and join it (``admit``).

Models that ``supports_slots`` run on a slotted KV cache (``SlotBatch``: newcomers are prefilled
into free slots, starting from cached prompt prefixes); others on a padded batch whose caches are
stacked (``Batch``).

The scheduler has no thread, queue or event loop of its own — ``GenerationEngine`` drives it from
its worker thread, and tests drive it directly with any schedule of joins and leaves.
"""

from __future__ import annotations

from typing import Any

import torch

from ai_models.engine.kv import Batch
from ai_models.engine.prefix_cache import PrefixCache
from ai_models.engine.sampling import choose_tokens
from ai_models.engine.sequence import Delta, Sequence
from ai_models.engine.slots import SlotBatch, supports_slots
from ai_models.metrics import ModelMetrics

Event = tuple[Sequence, Delta]


class BatchScheduler:
    """Hold the running batch of one model and advance it step by step."""

    def __init__(
        self,
        model: Any,
        *,
        pad_id: int,
        stop_ids: set[int],
        max_batch_size: int,
        metrics: ModelMetrics | None = None,
        prefix_cache_bytes: int = 0,
        slotted: bool | None = None,
    ) -> None:
        self.model = model
        self.device = next(model.parameters()).device
        self.pad_id = pad_id
        self.stop_ids = set(stop_ids)
        self._stop_tensor = torch.tensor(sorted(self.stop_ids), dtype=torch.long)
        self.max_batch_size = max_batch_size
        self.metrics = metrics
        self.slotted = supports_slots(model) if slotted is None else slotted
        self.prefix_cache = (
            PrefixCache(prefix_cache_bytes) if self.slotted and prefix_cache_bytes > 0 else None
        )
        self.batch: Batch | SlotBatch | None = None

    @property
    def running(self) -> list[Sequence]:
        """Return the sequences in the running batch."""
        return list(self.batch.sequences) if self.batch is not None else []

    @property
    def room(self) -> int:
        """Return how many sequences may join at the next step."""
        if self.batch is None:
            return self.max_batch_size
        return self.max_batch_size - self.batch.size if self.batch.can_merge else 0

    def decode(self) -> list[Event]:
        """Decode one token for every running row; return their new text.

        Rows marked ``cancelled`` leave first; finished rows leave after their last token.
        """
        if self.batch is None:
            return []
        self.batch.drop([i for i, seq in enumerate(self.batch.sequences) if seq.cancelled])
        events = []
        if self.batch.size:
            if self.metrics:
                self.metrics.iteration_tokens.observe(self.batch.size)
            events = self._choose(self.batch, self.batch.forward())
        self._forget_if_empty()
        return events

    def admit(self, joining: list[Sequence]) -> list[Event]:
        """Prefill ``joining`` (their first token) and stack them onto the running batch."""
        if len(joining) > self.room:
            raise ValueError(f"{len(joining)} sequences cannot join; room for {self.room}")
        joining = [seq for seq in joining if not seq.cancelled]
        if not joining:
            return []
        if self.slotted:
            return self._add(joining)
        newcomers = Batch.from_prompts(self.model, joining, pad_id=self.pad_id, device=self.device)
        if self.metrics:
            self.metrics.iteration_tokens.observe(sum(len(s.prompt_ids) for s in joining))
        events = self._choose(newcomers, newcomers.prefill())
        if self.batch is None:
            self.batch = newcomers
        else:
            self.batch.merge(newcomers)
        self._forget_if_empty()
        return events

    def _add(self, joining: list[Sequence]) -> list[Event]:
        """Prefill ``joining`` into free slots of the running batch (started if there is none)."""
        if self.batch is None:
            self.batch = SlotBatch(
                self.model,
                pad_id=self.pad_id,
                max_slots=self.max_batch_size,
                device=self.device,
                prefix_cache=self.prefix_cache,
            )
        first = self.batch.size
        cached = self.prefix_cache.hit_tokens if self.prefix_cache else 0
        logits = self.batch.add(joining)
        if self.metrics:  # the prompt tokens this step computed
            cached = (self.prefix_cache.hit_tokens if self.prefix_cache else 0) - cached
            self.metrics.iteration_tokens.observe(sum(len(s.prompt_ids) for s in joining) - cached)
        events = self._choose(self.batch, logits, first)
        self._forget_if_empty()
        return events

    def _forget_if_empty(self) -> None:
        if self.batch is not None and not self.batch.size:
            self.batch = None

    def abandon(self) -> list[Sequence]:
        """Forget the running batch (after a failed step); return its unfinished sequences."""
        unfinished = [seq for seq in self.running if not seq.done]
        self.batch = None
        return unfinished

    def _choose(
        self, batch: Batch | SlotBatch, logits: torch.Tensor, start: int = 0
    ) -> list[Event]:
        """Pick the next token of rows ``start…``, record it, and let finished rows leave."""
        rows = batch.sequences[start:]
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
        if start:  # only a slotted batch adds rows to a running one
            batch.set_next_tokens(tokens, start)
        else:
            batch.set_next_tokens(tokens)
        batch.drop([start + i for i, seq in enumerate(rows) if seq.done])
        return events
