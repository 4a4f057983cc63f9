"""Chat and text completions from a local causal LM, through the batching ``GenerationEngine``.

Checks the limits (``MAX_TOKENS``, the context length) before anything is queued, so an
oversized request gets a 400 naming the limit and a full queue a 429, never a broken stream.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

from ai_models.backends.base import (
    GenerateRequest,
    RequestContext,
    Result,
    ServedModel,
    check_token_ids,
)
from ai_models.engine.generation import GenerationEngine
from ai_models.engine.grammar import JsonGrammar
from ai_models.engine.queue import Group
from ai_models.engine.sequence import Delta, SamplingParams, Sequence
from ai_models.errors import ContextLengthError, InvalidRequestError, ModelServiceError
from ai_models.openai_format import SSE_DONE, ResponseShape, sse
from ai_models.registry import ModelSpec
from ai_models.schemas import ChatCompletionRequest, CompletionRequest


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

    # -- prompts and limits (moving to ai_models.entrypoints) ---------------------------------

    def chat_prompt(self, request: ChatCompletionRequest) -> list[int]:
        """Render the request's messages into prompt token ids."""
        return self.render_chat(
            [
                {"role": "system" if m.role == "developer" else m.role, "content": m.text()}
                for m in request.messages
            ]
        )

    def _prompts(self, request: CompletionRequest) -> list[list[int]]:
        prompt = request.prompt
        if isinstance(prompt, str):
            prompt = [prompt]
        elif prompt and isinstance(prompt[0], int):
            prompt = [prompt]
        prompts = []
        for item in prompt:
            prompts.append(item if isinstance(item, list) else self.tokenize(item))
        check_token_ids(prompts, self.vocab_size, "prompt")
        return prompts

    def _params(self, request: Any, prompt_tokens: int, where: str) -> SamplingParams:
        limit, field = request.token_limit(), request.token_limit_field()
        if limit is not None and limit > self.max_tokens:
            raise InvalidRequestError(
                f"{field}={limit} is more than this server allows (MAX_TOKENS={self.max_tokens})",
                param=field,
            )
        room = self.context_length - prompt_tokens
        if room < 1 or (limit is not None and limit > room):
            asked = prompt_tokens + (limit or 0)
            raise ContextLengthError(
                f"This model's maximum context length is {self.context_length} tokens. However, "
                f"you requested {asked} tokens ({prompt_tokens} in the {where}, {limit or 0} in "
                f"the completion). Please reduce the length of the {where} or completion.",
                param=where,
            )
        bias = request.token_bias()
        unknown = next((token for token in bias if token >= self.vocab_size), None)
        if unknown is not None:
            raise InvalidRequestError(
                f"logit_bias names token {unknown}, but the vocabulary of {self.name!r} has "
                f"{self.vocab_size} tokens",
                param="logit_bias",
            )
        return SamplingParams(
            max_tokens=limit or min(self.max_tokens, room),
            temperature=1.0 if request.temperature is None else request.temperature,
            top_p=1.0 if request.top_p is None else request.top_p,
            seed=request.seed,
            stop=request.stop_list(),
            ignore_eos=request.ignore_eos,
            presence_penalty=request.presence_penalty,
            frequency_penalty=request.frequency_penalty,
            logit_bias=bias,
        )

    async def _submit(
        self, request: Any, prompts: list[list[int]], where: str, ctx: RequestContext
    ) -> list[Sequence]:
        params = [self._params(request, len(ids), where) for ids in prompts]
        fmt = request.response_format.as_dict() if request.response_format else None
        generate = GenerateRequest(prompts, params, n=request.n, response_format=fmt)
        stream = await self.generate(generate, ctx)
        ctx.metrics.prompt_tokens.inc(sum(len(ids) for ids in prompts))
        return stream.sequences

    # -- OpenAI operations --------------------------------------------------------------------

    async def chat(self, request: ChatCompletionRequest, ctx: RequestContext) -> Result:
        """Answer a chat completion (streamed or whole)."""
        prompt = self.chat_prompt(request)
        sequences = await self._submit(request, [prompt], "messages", ctx)
        return await self._run(request, sequences, ctx, ResponseShape(self.name, chat=True), "")

    async def completion(self, request: CompletionRequest, ctx: RequestContext) -> Result:
        """Answer a text completion (streamed or whole)."""
        prompts = self._prompts(request)
        sequences = await self._submit(request, prompts, "prompt", ctx)
        echo = [self.detokenize(p) if request.echo else "" for p in prompts]
        prefixes = [echo[i // request.n] for i in range(len(sequences))]
        shape = ResponseShape(self.name, chat=False)
        return await self._run(request, sequences, ctx, shape, prefixes)

    async def _run(
        self,
        request: Any,
        sequences: list[Sequence],
        ctx: RequestContext,
        shape: ResponseShape,
        prefixes: list[str] | str,
    ) -> Result:
        if isinstance(prefixes, str):
            prefixes = [prefixes] * len(sequences)
        prompt_tokens = sum(len(s.prompt_ids) for s in sequences[:: request.n])
        if request.stream:
            usage = request.stream_options.include_usage if request.stream_options else False
            return self._stream(sequences, ctx, shape, prefixes, prompt_tokens, usage)
        return await ctx.until_disconnected(
            self._collect(sequences, ctx, shape, prefixes, prompt_tokens)
        )

    async def _collect(
        self,
        sequences: list[Sequence],
        ctx: RequestContext,
        shape: ResponseShape,
        prefixes: list[str],
        prompt_tokens: int,
    ) -> dict[str, Any]:
        texts = list(prefixes)
        async for delta in self.engine.stream(sequences):
            texts[delta.index] += delta.text
        self._finished(sequences, ctx)
        choices = [(texts[i], seq.finish_reason) for i, seq in enumerate(sequences)]
        completion_tokens = sum(len(seq.generated) for seq in sequences)
        return shape.response(choices, prompt_tokens, completion_tokens)

    async def _stream(
        self,
        sequences: list[Sequence],
        ctx: RequestContext,
        shape: ResponseShape,
        prefixes: list[str],
        prompt_tokens: int,
        include_usage: bool,
    ) -> AsyncIterator[str]:
        try:
            for i, prefix in enumerate(prefixes):
                if shape.chat:
                    yield shape.chunk(i, "", role=True, with_usage_field=include_usage)
                elif prefix:
                    yield shape.chunk(i, prefix, with_usage_field=include_usage)
            async for delta in self.engine.stream(sequences):
                if delta.text:
                    yield shape.chunk(delta.index, delta.text, with_usage_field=include_usage)
                if delta.finish_reason is not None:
                    yield shape.chunk(
                        delta.index,
                        None if shape.chat else "",
                        delta.finish_reason,
                        with_usage_field=include_usage,
                    )
            self._finished(sequences, ctx)
            if include_usage:
                completion_tokens = sum(len(seq.generated) for seq in sequences)
                yield shape.usage_chunk(prompt_tokens, completion_tokens)
        except ModelServiceError as exc:
            yield sse(exc.body())
        except asyncio.CancelledError:
            ctx.metrics.finished("abort")
            raise
        yield SSE_DONE

    @staticmethod
    def _finished(sequences: list[Sequence], ctx: RequestContext) -> None:
        ctx.metrics.e2e.observe(time.monotonic() - ctx.started)
        ctx.metrics.finished(sequences[0].finish_reason or "abort")

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
