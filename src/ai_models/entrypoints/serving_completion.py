"""``POST /v1/completions``: prompts (texts or token ids) -> the model's deltas -> a text
completion, or a stream of ``text_completion`` events; ``echo`` repeats each prompt first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from ai_models.backends.base import OpenAIProxy, RequestContext, ServedModel
from ai_models.entrypoints import protocol
from ai_models.entrypoints.serving_engine import (
    Stream,
    Tally,
    collect,
    envelope,
    finished,
    guarded,
    new_id,
    now,
    relay,
    sse,
    usage,
)

if TYPE_CHECKING:
    from ai_models.engine.sequence import Delta


async def create(
    model: ServedModel, request: protocol.CompletionRequest, ctx: RequestContext
) -> dict[str, Any] | Stream:
    """Answer a text completion, whole or streamed."""
    if isinstance(model, OpenAIProxy):
        return await relay(model, "/completions", request, ctx)
    prompts = protocol.completion_prompts(request, model)
    generate = protocol.generate_request(request, model, prompts, "prompt")
    deltas = await model.generate(generate, ctx)
    echoes = [model.detokenize(ids) if request.echo else "" for ids in prompts]
    prefixes = [echoes[i // request.n] for i in range(len(prompts) * request.n)]
    head = envelope(new_id("cmpl"), "text_completion", model.name, now())
    prompt_tokens = sum(len(ids) for ids in prompts)
    if request.stream:
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        events = _stream(deltas, head, prefixes, prompt_tokens, include_usage, ctx)
        return guarded(events, deltas, ctx)
    tally = await collect(deltas, Tally(prefixes), ctx)
    choices = [
        {"index": i, "text": text, "logprobs": None, "finish_reason": reason}
        for i, (text, reason) in enumerate(zip(tally.texts, tally.reasons, strict=True))
    ]
    return {**head, "choices": choices, "usage": usage(prompt_tokens, tally.completion_tokens)}


async def _stream(
    deltas: AsyncIterator[Delta],
    head: dict[str, Any],
    prefixes: list[str],
    prompt_tokens: int,
    include_usage: bool,
    ctx: RequestContext,
) -> AsyncIterator[bytes]:
    extra = {"usage": None} if include_usage else {}

    def chunk(index: int, text: str, reason: str | None = None) -> bytes:
        choice = {"index": index, "text": text, "logprobs": None, "finish_reason": reason}
        return sse({**head, "choices": [choice], **extra})

    for i, prefix in enumerate(prefixes):
        if prefix:
            yield chunk(i, prefix)
    tally = Tally([""] * len(prefixes))
    async for delta in deltas:
        tally.add(delta)
        if delta.text:
            yield chunk(delta.index, delta.text)
        if delta.finish_reason is not None:
            yield chunk(delta.index, "", delta.finish_reason)
    finished(ctx, tally.reasons[0])
    if include_usage:
        yield sse({**head, "choices": [], "usage": usage(prompt_tokens, tally.completion_tokens)})
