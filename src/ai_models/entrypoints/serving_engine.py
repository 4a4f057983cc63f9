"""What the endpoints share: JSON bodies and server-sent events (encoded once with orjson, numpy
vectors natively), ids and usage, the tally of a generation's deltas, its guarded stream, the
metrics of how a request finished, and the relay to a remote OpenAI-compatible engine."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import orjson
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from ai_models.backends.base import OpenAIProxy, RequestContext
from ai_models.errors import ModelServiceError

if TYPE_CHECKING:
    from ai_models.engine.sequence import Delta


SSE_DONE = b"data: [DONE]\n\n"
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
_OPTIONS = orjson.OPT_SERIALIZE_NUMPY


def dumps(payload: Any) -> bytes:
    """Encode ``payload`` as compact UTF-8 JSON."""
    return orjson.dumps(payload, option=_OPTIONS)


def sse(payload: dict[str, Any]) -> bytes:
    """Encode one server-sent event."""
    return b"data: " + orjson.dumps(payload, option=_OPTIONS) + b"\n\n"


class JSONBody(Response):
    """A JSON response encoded with orjson."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode the body."""
        return dumps(content)


class Stream:
    """The events of one streamed answer; ``aclose`` ends the work behind them, started or not.

    (An async generator that never started ignores ``aclose``; a client may leave that early.)
    """

    def __init__(self, events: AsyncIterator[bytes], *sources: Any) -> None:
        self.events = events
        self.sources = sources  # what produces the events: closed after them

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> bytes:
        return await self.events.__anext__()

    async def aclose(self) -> None:
        """Close the events, then their sources."""
        try:
            await self.events.aclose()
        finally:
            for source in self.sources:
                await source.aclose()


class EventStreamResponse(StreamingResponse):
    """A ``text/event-stream`` response that closes its ``Stream`` however the response ends."""

    def __init__(self, stream: Stream) -> None:
        super().__init__(stream, media_type="text/event-stream", headers=STREAM_HEADERS)
        self.stream = stream

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        """Send the events; close the stream even if the client left before the first."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.stream.aclose()


def respond(result: dict[str, Any] | Stream) -> Response:
    """Wrap a whole body as JSON, or a stream of events as ``text/event-stream``."""
    if isinstance(result, dict):
        return JSONBody(result)
    return EventStreamResponse(result)


def new_id(prefix: str) -> str:
    """Return a fresh response id such as ``chatcmpl-…``."""
    return f"{prefix}-{uuid.uuid4().hex}"


def usage(prompt_tokens: int, completion_tokens: int = 0) -> dict[str, int]:
    """Return OpenAI's usage object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def envelope(response_id: str, obj: str, model: str, created: int) -> dict[str, Any]:
    """Return the fields every chunk and body of one response shares."""
    return {"id": response_id, "object": obj, "created": created, "model": model}


def now() -> int:
    """Return the ``created`` timestamp."""
    return int(time.time())


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
