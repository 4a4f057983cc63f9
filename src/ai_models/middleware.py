"""ASGI middleware of the model server: request ids with an access log, and the body-size limit.

Both are plain ASGI so streamed responses pass through untouched.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from typing import Any

from ai_models.errors import RequestTooLargeError, error_body

access_log = logging.getLogger("ai_models.access")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")

Scope = dict[str, Any]


async def send_error(send: Any, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
    """Send a complete JSON error response."""
    payload = json.dumps(body).encode()
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": payload})


class RequestIdMiddleware:
    """Take ``X-Request-ID`` (or make one), return it, log one line per request, and answer any
    unexpected exception with a 500 in OpenAI's error shape (the trace goes to the log only)."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        given = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started, status = time.monotonic(), None

        async def send_with_id(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            access_log.exception("unhandled error", extra={"request_id": request_id})
            if status is None:  # nothing sent yet; a stream that broke midway can only end
                message = f"internal server error (request id {request_id})"
                body = error_body(message, "server_error", code="internal_error")
                await send_error(send_with_id, 500, body, {})
        finally:
            access_log.info(
                "%s %s %s",
                scope["method"],
                scope["path"],
                status,
                extra={
                    "request_id": request_id,
                    "status": status,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )


class BodySizeLimitMiddleware:
    """Refuse request bodies over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> RequestTooLargeError:
        return RequestTooLargeError(
            f"the request body is larger than this server accepts (MAX_BODY_BYTES={self.max_bytes})"
        )

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            error = self._too_large()
            return await send_error(send, error.status_code, error.body(), {"connection": "close"})
        body, more = bytearray(), True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left before sending its body
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                error = self._too_large()
                return await send_error(
                    send, error.status_code, error.body(), {"connection": "close"}
                )
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
