"""One generation in flight (``Sequence``), how it is decoded (``SamplingParams``) and the text it
sends to its request (``Delta``).

These types sit below the engine's modules (``kv``, ``sampling``, ``generation``), which all use
them, so none of those modules imports another to reach them.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ai_models.engine.grammar import CLOSING_ALLOWANCE
from ai_models.engine.queue import Group

if TYPE_CHECKING:
    import torch

    from ai_models.engine.detokenize import IncrementalDetokenizer
    from ai_models.engine.grammar import GrammarState


@dataclass(frozen=True)
class SamplingParams:
    """How one sequence is decoded."""

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    seed: int | None = None
    stop: tuple[str, ...] = ()
    ignore_eos: bool = False
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    logit_bias: dict[int, float] = field(default_factory=dict)


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
