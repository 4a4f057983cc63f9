"""A local causal LM served through the batching ``GenerationEngine``: chat template, tokenizer,
and ``generate`` (token ids in, ``Delta``s out).

``generate`` holds the request's place in the queue and compiles its grammar before anything
runs, so a full queue is a 429 and a refused schema a 400, never a broken stream.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ai_models.backends.base import GenerateRequest, RequestContext, ServedModel
from ai_models.engine.generation import GenerationEngine
from ai_models.engine.grammar import JsonGrammar
from ai_models.engine.queue import Group
from ai_models.engine.sequence import Delta, SamplingParams, Sequence
from ai_models.errors import InvalidRequestError, ModelServiceError
from ai_models.registry import ModelSpec


class LocalGenerator(ServedModel):
    """A causal LM served through a ``GenerationEngine``."""

    def __init__(
        self,
        spec: ModelSpec,
        *,
        tokenizer: Any,
        engine: GenerationEngine,
        grammar: JsonGrammar,
        context_length: int,
        max_tokens: int,
    ) -> None:
        super().__init__(spec)
        self.tokenizer = tokenizer
        self.engine = engine
        self.grammar = grammar
        self.context_length = context_length
        self.max_tokens = max_tokens

    def describe(self) -> dict[str, Any]:
        """Return the context length for ``/v1/models``."""
        return {"max_model_len": self.context_length}

    # -- the generation contract --------------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        """Return the number of token ids the tokenizer knows."""
        return len(self.tokenizer)

    def render_chat(self, messages: list[dict[str, str]]) -> list[int]:
        """Render the messages with the model's chat template and tokenize them."""
        if not getattr(self.tokenizer, "chat_template", None):
            raise InvalidRequestError(
                f"model {self.name!r} has no chat template; use /v1/completions", param="messages"
            )
        try:
            text = self.tokenizer.apply_chat_template(
                messages, add_generation_prompt=True, tokenize=False
            )
        except Exception as exc:  # a Jinja template may refuse roles or their order
            raise InvalidRequestError(
                f"the chat template of {self.name!r} rejected these messages: {exc}",
                param="messages",
            ) from None
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def tokenize(self, text: str) -> list[int]:
        """Return the token ids of a completion prompt."""
        return self.tokenizer(text)["input_ids"]

    def detokenize(self, ids: list[int]) -> str:
        """Return the text of token ids."""
        return self.tokenizer.decode(ids)

    async def generate(self, request: GenerateRequest, ctx: RequestContext) -> EngineStream:
        """Hold the request's place in the queue, compile its grammar, queue its sequences."""
        group = self._reserve(len(request.prompts), request.n, ctx)
        try:
            compiled = None
            if request.response_format is not None:
                compiled = await self.grammar.compile_within_deadline(request.response_format)
            sequences = []
            for ids, param in zip(request.prompts, request.params, strict=True):
                for _ in range(request.n):
                    state = self.grammar.state(compiled) if compiled is not None else None
                    sequences.append(
                        Sequence(ids, param, grammar=state, context_length=self.context_length)
                    )
            self.engine.submit(sequences, group)
        except BaseException:  # a refused schema or a client gone: its place frees at once
            self.engine.release(group)
            raise
        ctx.metrics.prompt_tokens.inc(sum(len(ids) for ids in request.prompts))
        return EngineStream(self.engine, sequences)

    def _reserve(self, prompts: int, n: int, ctx: RequestContext) -> Group:
        """Count the request's sequences (prompts × n) against ``MAX_QUEUE_SIZE`` before work."""
        cost, limit = prompts * n, self.engine.queue.max_cost
        if cost > limit:
            raise InvalidRequestError(
                f"this request asks for {cost} sequences ({prompts} prompts x n={n}) but at most "
                f"{limit} may wait (MAX_QUEUE_SIZE={limit}); send fewer prompts or a smaller n",
                param="n" if prompts == 1 else "prompt",
            )
        try:
            return self.engine.reserve(cost)
        except ModelServiceError:
            ctx.metrics.rejected("queue_full")
            raise

    def warm_up(self) -> None:
        """Generate one token through the engine (on a private event loop)."""

        async def one_token() -> None:
            ids = self.tokenizer("Hello")["input_ids"] or [0]
            sequence = Sequence(
                ids, SamplingParams(max_tokens=1), context_length=self.context_length
            )
            self.engine.submit([sequence])
            async for _ in self.engine.stream([sequence]):
                pass

        asyncio.run(one_token())

    def close(self) -> None:
        """Stop the engine and grammar-compile threads."""
        self.engine.close()
        self.grammar.close()


class EngineStream:
    """The deltas of one request's sequences; ``aclose`` cancels them, started or not."""

    def __init__(self, engine: GenerationEngine, sequences: list[Sequence]) -> None:
        self.engine = engine
        self.sequences = sequences
        self._deltas = engine.stream(sequences)

    def __aiter__(self) -> EngineStream:
        return self

    async def __anext__(self) -> Delta:
        return await self._deltas.__anext__()

    async def aclose(self) -> None:
        """Stop the sequences that have not finished and free their slots."""
        await self._deltas.aclose()
        for seq in self.sequences:
            if seq.finish_reason is None and not seq.cancelled:
                self.engine.cancel(seq)
