"""``POST /v1/chat/completions``: messages -> chat template -> the model's deltas -> a chat
completion, or a stream of ``chat.completion.chunk`` events."""

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
    model: ServedModel, request: protocol.ChatCompletionRequest, ctx: RequestContext
) -> dict[str, Any] | Stream:
    """Answer a chat completion, whole or streamed."""
    if isinstance(model, OpenAIProxy):
        return await relay(model, "/chat/completions", request, ctx)
    prompt = model.render_chat(protocol.chat_messages(request))
    generate = protocol.generate_request(request, model, [prompt], "messages")
    deltas = await model.generate(generate, ctx)
    head = envelope(new_id("chatcmpl"), "chat.completion", model.name, now())
    if request.stream:
        include_usage = bool(request.stream_options and request.stream_options.include_usage)
        events = _stream(deltas, head, request.n, len(prompt), include_usage, ctx)
        return guarded(events, deltas, ctx)
    tally = await collect(deltas, Tally([""] * request.n), ctx)
    choices = [
        {
            "index": i,
            "message": {"role": "assistant", "content": text},
            "logprobs": None,
            "finish_reason": reason,
        }
        for i, (text, reason) in enumerate(zip(tally.texts, tally.reasons, strict=True))
    ]
    return {**head, "choices": choices, "usage": usage(len(prompt), tally.completion_tokens)}


async def _stream(
    deltas: AsyncIterator[Delta],
    head: dict[str, Any],
    n: int,
    prompt_tokens: int,
    include_usage: bool,
    ctx: RequestContext,
) -> AsyncIterator[bytes]:
    head = {**head, "object": "chat.completion.chunk"}
    extra = {"usage": None} if include_usage else {}

    def chunk(index: int, delta: dict[str, str], reason: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": reason}
        return sse({**head, "choices": [choice], **extra})

    for i in range(n):
        yield chunk(i, {"role": "assistant", "content": ""})
    tally = Tally([""] * n)
    async for delta in deltas:
        tally.add(delta)
        if delta.text:
            yield chunk(delta.index, {"content": delta.text})
        if delta.finish_reason is not None:
            yield chunk(delta.index, {}, delta.finish_reason)
    finished(ctx, tally.reasons[0])
    if include_usage:
        yield sse({**head, "choices": [], "usage": usage(prompt_tokens, tally.completion_tokens)})
