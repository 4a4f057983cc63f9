"""What the generation endpoints share: starting a generation, tallying its deltas, guarding its
stream, recording how it finished, and relaying to a remote OpenAI-compatible engine."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from ai_models.backends.base import OpenAIProxy, RequestContext
from ai_models.entrypoints.responses import SSE_DONE, Stream, sse
from ai_models.errors import ModelServiceError

if TYPE_CHECKING:
    from ai_models.engine.sequence import Delta


class Tally:
    """Each choice's text so far, finish reason and completion tokens."""

    def __init__(self, prefixes: list[str]) -> None:
        self.texts = list(prefixes)
        self.reasons: list[str | None] = [None] * len(prefixes)
        self.tokens = [0] * len(prefixes)

    def add(self, delta: Delta) -> None:
        """Record one delta."""
        self.texts[delta.index] += delta.text
        self.tokens[delta.index] = delta.completion_tokens
        if delta.finish_reason is not None:
            self.reasons[delta.index] = delta.finish_reason

    @property
    def completion_tokens(self) -> int:
        """Return the tokens generated over all choices."""
        return sum(self.tokens)


def finished(ctx: RequestContext, reason: str | None) -> None:
    """Record a request's end: its latency and finish reason (``abort`` when it had none)."""
    ctx.metrics.e2e.observe(time.monotonic() - ctx.started)
    ctx.metrics.finished(reason or "abort")


async def collect(deltas: AsyncIterator[Delta], tally: Tally, ctx: RequestContext) -> Tally:
    """Run a generation to its end (cancelled if the client goes away first)."""

    async def drain() -> None:
        async for delta in deltas:
            tally.add(delta)

    try:
        await ctx.until_disconnected(drain())
    finally:
        await deltas.aclose()
    finished(ctx, tally.reasons[0])
    return tally


def guarded(
    events: AsyncIterator[bytes], deltas: AsyncIterator[Delta], ctx: RequestContext
) -> Stream:
    """Return the stream of ``events`` (made from ``deltas``), ending in ``[DONE]``."""
    return Stream(_guarded(events, ctx), deltas)


async def _guarded(events: AsyncIterator[bytes], ctx: RequestContext) -> AsyncIterator[bytes]:
    """An error mid-stream becomes an error event; a client gone counts as ``abort``."""
    try:
        async for event in events:
            yield event
    except ModelServiceError as exc:
        finished(ctx, "error")
        yield sse(exc.body())
    except (asyncio.CancelledError, GeneratorExit):  # the client went away
        finished(ctx, "abort")
        raise
    finally:
        await events.aclose()
    yield SSE_DONE


async def relay(
    model: OpenAIProxy, path: str, request: BaseModel, ctx: RequestContext
) -> dict[str, Any] | Stream:
    """Forward the request to a remote engine; answer under our model name."""
    body = request.model_dump(mode="json", exclude_unset=True, by_alias=True)
    answer = await model.forward(path, body, ctx)
    if isinstance(answer, dict):
        answer["model"] = model.name
        finished(ctx, "stop")
        return answer
    return Stream(_relay_events(model.name, answer, ctx), answer)


async def _relay_events(
    name: str, events: AsyncIterator[dict[str, Any]], ctx: RequestContext
) -> AsyncIterator[bytes]:
    reason = None
    async for event in events:
        if "model" in event:
            event["model"] = name
        for choice in event.get("choices") or ():
            reason = (choice.get("finish_reason") if isinstance(choice, dict) else None) or reason
        yield sse(event)
    finished(ctx, reason)
    yield SSE_DONE
