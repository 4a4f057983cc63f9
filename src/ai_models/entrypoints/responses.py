"""What every endpoint's answer is made of: ids, usage, JSON bodies and server-sent events.

Bodies are plain dicts encoded once with orjson (numpy vectors natively, no ``tolist``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi.responses import Response, StreamingResponse

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
