"""HTTP routes of the model server: OpenAI ``/v1``, health and metrics, SageMaker.

Views are thin: parse, find the model, hand both to the endpoint's serving module
(``ai_models.entrypoints.serving_*``), wrap its answer as JSON or a server-sent-event stream.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError

from ai_models.backends import RequestContext, ServedModel
from ai_models.entrypoints import (
    serving_chat,
    serving_classification,
    serving_completion,
    serving_embedding,
)
from ai_models.entrypoints.protocol import (
    ChatCompletionRequest,
    ClassificationRequest,
    CompletionRequest,
    EmbeddingRequest,
)
from ai_models.entrypoints.serving_engine import respond
from ai_models.errors import AuthenticationError, InvalidRequestError, error_body
from ai_models.registry import Task

Create = Callable[[ServedModel, Any, RequestContext], Awaitable[Any]]


async def require_api_key(request: Request) -> None:
    """Let the request through only with a configured ``Authorization: Bearer`` key."""
    keys: list[bytes] = request.app.state.api_keys
    if not keys:
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token_bytes = token.strip().encode()
    valid = scheme.lower() == "bearer" and any(hmac.compare_digest(token_bytes, k) for k in keys)
    if not valid:
        request.app.state.metrics.rejected.labels("unauthorized").inc()
        message = (
            "Incorrect API key provided."
            if token
            else "Missing API key: send Authorization: Bearer <key>."
        )
        raise AuthenticationError(message)


async def _watch_disconnect(request: Request, gone: asyncio.Event) -> None:
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            gone.set()
            return


async def serve(request: Request, body: BaseModel, create: Create) -> Response:
    """Find the model ``body`` names and answer with ``create`` (a serving module's)."""
    host = request.app.state.host
    model = await host.get(body.model)
    ctx = RequestContext(
        metrics=host.entry(model.name).metrics, request_id=request.state.request_id
    )
    watcher = asyncio.create_task(_watch_disconnect(request, ctx.disconnected))
    try:
        return respond(await create(model, body, ctx))
    finally:
        watcher.cancel()


v1 = APIRouter(prefix="/v1", dependencies=[Depends(require_api_key)])


@v1.get("/models")
async def list_models(request: Request) -> dict[str, Any]:
    """List the served models."""
    return {"object": "list", "data": request.app.state.host.describe()}


@v1.get("/models/{model_id:path}")
async def get_model(model_id: str, request: Request) -> dict[str, Any]:
    """Describe one served model."""
    host = request.app.state.host
    name = host.entry(model_id).spec.name
    return next(item for item in host.describe() if item["id"] == name)


@v1.post("/chat/completions")
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    """Create a chat completion."""
    return await serve(request, body, serving_chat.create)


@v1.post("/completions")
async def completions(body: CompletionRequest, request: Request) -> Response:
    """Create a text completion."""
    return await serve(request, body, serving_completion.create)


@v1.post("/embeddings")
async def embeddings(body: EmbeddingRequest, request: Request) -> Response:
    """Create embeddings."""
    return await serve(request, body, serving_embedding.create)


@v1.post("/classify")
async def classify(body: ClassificationRequest, request: Request) -> Response:
    """Classify texts (vLLM's classification API)."""
    return await serve(request, body, serving_classification.create)


health = APIRouter()


@health.get("/healthz")
async def healthz() -> dict[str, str]:
    """Answer while the process is alive."""
    return {"status": "ok"}


@health.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Answer 200 once every model is loaded and warmed up, 503 before."""
    host = request.app.state.host
    states = host.states()
    if host.ready:
        return JSONResponse({"status": "ready", "models": states})
    waiting = ", ".join(f"{name}: {state}" for name, state in states.items() if state != "ready")
    body = error_body(f"not ready ({waiting})", "service_unavailable_error", code="model_not_ready")
    return JSONResponse({**body, "models": states}, status_code=503)


@health.get("/metrics")
async def metrics(request: Request) -> Response:
    """Expose Prometheus metrics."""
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)


sagemaker = APIRouter()
_INVOCATION_SHAPES: dict[str, tuple[type[BaseModel], Create]] = {
    "messages": (ChatCompletionRequest, serving_chat.create),
    "prompt": (CompletionRequest, serving_completion.create),
}


@sagemaker.get("/ping")
async def ping(request: Request) -> Response:
    """SageMaker health check: 200 once ready."""
    return Response(status_code=200 if request.app.state.host.ready else 503)


@sagemaker.post("/invocations")
async def invocations(request: Request) -> Response:
    """SageMaker inference: an OpenAI-shaped body (or ``inputs``) for the served model."""
    try:
        data = await request.json()
    except ValueError:
        raise InvalidRequestError("the body must be a JSON object") from None
    if not isinstance(data, dict):
        raise InvalidRequestError("the body must be a JSON object")
    host = request.app.state.host
    data.setdefault("model", next(iter(host.entries)))
    if "inputs" in data and "input" not in data:
        data["input"] = data.pop("inputs")
    task = host.entry(data["model"]).spec.task
    shape = next((v for k, v in _INVOCATION_SHAPES.items() if k in data), None)
    if shape is None and task is Task.TEXT_GENERATION:
        data["prompt"] = data.pop("input", "")
        shape = _INVOCATION_SHAPES["prompt"]
    if shape is None:
        shape = (
            (EmbeddingRequest, serving_embedding.create)
            if task is Task.EMBEDDINGS
            else (ClassificationRequest, serving_classification.create)
        )
    schema, create = shape
    try:
        body = schema.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc.errors()) from None
    return await serve(request, body, create)


def validation_error(errors: list[dict[str, Any]]) -> InvalidRequestError:
    """Turn pydantic errors into one 400 naming the first bad field."""
    first = errors[0]
    loc = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(loc) or None
    message = first.get("msg", "invalid request").removeprefix("Value error, ")
    return InvalidRequestError(f"{param}: {message}" if param else message, param=param)
