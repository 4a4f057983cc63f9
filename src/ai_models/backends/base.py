"""What every backend provides: a ``Backend`` that loads a ``ModelSpec`` into a ``ServedModel``.

A ``ServedModel`` exposes what its task needs and nothing of OpenAI's wire format: text generation
models ``render_chat``/``tokenize``/``detokenize`` and ``generate`` (token ids in, ``Delta``s out),
embedding models ``encode``, classifiers ``classify``. The serving modules in
``ai_models.entrypoints`` turn requests into these calls and their results into responses; a model
asked for what its task lacks answers a clear 400.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ai_models.errors import InvalidRequestError
from ai_models.registry import ModelSpec, Task

if TYPE_CHECKING:
    import numpy as np

    from ai_models.config import ModelServiceSettings
    from ai_models.engine.sequence import Delta, SamplingParams
    from ai_models.metrics import ModelMetrics


@dataclass(frozen=True)
class GenerateRequest:
    """What a text generation model is asked to do, already checked against its limits.

    ``Delta.index`` of the answer is ``prompt_i * n + choice``.
    """

    prompts: list[list[int]]
    params: list[SamplingParams]  # one per prompt
    n: int = 1
    response_format: dict[str, Any] | None = None  # OpenAI's, as a plain dict


@dataclass
class RequestContext:
    """What a model needs to know about the HTTP request it serves."""

    metrics: ModelMetrics
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    started: float = field(default_factory=time.monotonic)
    disconnected: asyncio.Event = field(default_factory=asyncio.Event)

    async def until_disconnected(self, awaitable: Any) -> Any:
        """Await ``awaitable`` unless the client goes away first (then cancel it and raise)."""
        from ai_models.errors import CancelledRequest

        task = asyncio.ensure_future(awaitable)
        gone = asyncio.ensure_future(self.disconnected.wait())
        try:
            await asyncio.wait({task, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            raise CancelledRequest()
        return task.result()


def check_lengths(lengths: list[int], limit: int) -> None:
    """Refuse any input longer than ``limit`` tokens (400 naming the input and the limit)."""
    for i, length in enumerate(lengths):
        if length > limit:
            raise InvalidRequestError(
                f"input {i} has {length} tokens; this model's maximum context length is "
                f"{limit} tokens",
                param="input",
            )


def check_token_ids(prompts: list[list[int]], vocab_size: int, param: str) -> None:
    """Refuse an empty token list or a token id outside the vocabulary (400 naming ``param``)."""
    for i, ids in enumerate(prompts):
        bad = next((t for t in ids if not 0 <= t < vocab_size), None) if ids else "none"
        if bad is not None:
            what = "no tokens" if bad == "none" else f"token id {bad}"
            raise InvalidRequestError(
                f"{param} {i} holds {what}; token ids run from 0 to {vocab_size - 1}",
                param=param,
            )


async def run_batched(batcher: Any, payloads: list[Any], ctx: RequestContext, tokens: int) -> list:
    """Run ``payloads`` through a ``DynamicBatcher``; count its prompt tokens (or its refusal)."""
    from ai_models.errors import QueueFullError

    try:
        results = await ctx.until_disconnected(batcher.run(payloads))
    except QueueFullError:
        ctx.metrics.rejected("queue_full")
        raise
    ctx.metrics.prompt_tokens.inc(tokens)
    return results


class ServedModel:
    """A loaded model exposing what its task needs; asked for anything else it answers 400."""

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.task = spec.task

    def _unsupported(self, what: str) -> InvalidRequestError:
        return InvalidRequestError(
            f"model {self.name!r} is a {self.task.value} model; it does not serve {what}",
            param="model",
        )

    # -- text generation: the serving layer checks limits against these three ----------------
    context_length: int = 0
    max_tokens: int = 0
    vocab_size: int = 0

    def render_chat(self, messages: list[dict[str, str]]) -> list[int]:
        """Render chat messages with the model's chat template into prompt token ids."""
        raise self._unsupported("chat completions")

    def tokenize(self, text: str) -> list[int]:
        """Return the token ids of ``text`` (with the special tokens a prompt starts with)."""
        raise self._unsupported("completions")

    def detokenize(self, ids: list[int]) -> str:
        """Return the text of token ids."""
        raise self._unsupported("completions")

    async def generate(self, request: GenerateRequest, ctx: RequestContext) -> AsyncIterator[Delta]:
        """Queue the request (400/429 raised here, before any stream); return its deltas.

        Abandoning (``aclose``) the returned iterator cancels the work.
        """
        raise self._unsupported("completions")

    # -- embeddings and classification ----------------------------------------------------------

    async def encode(
        self, inputs: list[str] | list[list[int]], ctx: RequestContext
    ) -> tuple[list[np.ndarray], int]:
        """Return one vector per input, in order, and the number of prompt tokens."""
        raise self._unsupported("embeddings")

    async def classify(
        self, inputs: list[str], ctx: RequestContext
    ) -> tuple[list[tuple[str, list[float]]], int]:
        """Return (label, class probabilities) per input, in order, and the prompt tokens."""
        raise self._unsupported("classification")

    def describe(self) -> dict[str, Any]:
        """Return extra fields for this model's ``/v1/models`` entry."""
        return {}

    def warm_up(self) -> None:
        """Run one small request end to end, so readiness means the model really answers."""

    def close(self) -> None:
        """Release threads and memory."""


class OpenAIProxy(ServedModel):
    """A model that another OpenAI-compatible engine runs: requests are forwarded, not generated.

    The serving modules send it the request body as it came (``model`` aside) instead of calling
    ``generate``/``encode``/``classify``.
    """

    async def forward(
        self, path: str, body: dict[str, Any], ctx: RequestContext
    ) -> dict[str, Any] | AsyncIterator[dict[str, Any]]:
        """Send ``body`` to ``path``; return the answer, or its stream of events when streamed."""
        raise NotImplementedError


class Backend:
    """Loads models of some tasks; subclasses register themselves by ``name``."""

    name: ClassVar[str]
    tasks: ClassVar[tuple[Task, ...]]

    def load(
        self, spec: ModelSpec, settings: ModelServiceSettings, metrics: ModelMetrics
    ) -> ServedModel:
        """Load ``spec``; raise ``ModelLoadError`` with one clear line on failure."""
        raise NotImplementedError
