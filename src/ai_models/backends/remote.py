"""The ``openai-compatible`` backend: forward requests to a remote engine (OpenAI, vLLM, Ollama,
LM Studio, llama.cpp server) at the spec's base URL, with ``AI_MODEL_API_KEY`` as bearer key.

The model is an ``OpenAIProxy``: the serving modules forward request bodies unchanged except
``model`` (the remote name, ``options.remote_model``, or the entry's name), and streams come back
event by event. Remote errors keep their status and OpenAI error body; an unreachable engine is a
502 naming the URL.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ai_models.backends import register
from ai_models.backends.base import Backend, OpenAIProxy, RequestContext, ServedModel
from ai_models.config import ModelServiceSettings
from ai_models.errors import ModelLoadError, ModelServiceError
from ai_models.metrics import ModelMetrics
from ai_models.registry import ModelSpec, Task


class RemoteError(ModelServiceError):
    """The remote engine failed or answered with an error."""

    error_type = "upstream_error"

    def __init__(self, status: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(message, code="upstream_error")
        self.status_code = status
        self._body = body

    def body(self) -> dict[str, Any]:
        """Return the remote's own error body when it had one."""
        return self._body or super().body()


@register
class RemoteBackend(Backend):
    """Serve a model that runs in another OpenAI-compatible engine."""

    name = "openai-compatible"
    tasks = tuple(Task)

    def load(
        self, spec: ModelSpec, settings: ModelServiceSettings, metrics: ModelMetrics
    ) -> ServedModel:
        """Connect to the remote engine and check that it answers ``GET /models``."""
        key = settings.remote_api_key.get_secret_value() if settings.remote_api_key else None
        model = RemoteModel(spec, key)
        try:
            response = httpx.get(model.url("/models"), headers=model.headers, timeout=10)
        except httpx.HTTPError as exc:
            raise ModelLoadError(spec.name, spec.source, f"cannot reach it: {exc}") from None
        if response.status_code in (401, 403):
            raise ModelLoadError(spec.name, spec.source, "it refused the key: set AI_MODEL_API_KEY")
        return model


class RemoteModel(OpenAIProxy):
    """A model answered by a remote OpenAI-compatible engine."""

    def __init__(self, spec: ModelSpec, api_key: str | None) -> None:
        super().__init__(spec)
        self.base_url = spec.source.rstrip("/")
        self.remote_name = spec.options.remote_model or spec.name
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.AsyncClient(
            headers=self.headers, timeout=httpx.Timeout(600, connect=10)
        )

    def url(self, path: str) -> str:
        """Return the remote URL of ``path`` (under its /v1 base)."""
        return f"{self.base_url}{path}"

    async def forward(
        self, path: str, body: dict[str, Any], ctx: RequestContext
    ) -> dict[str, Any] | AsyncIterator[dict[str, Any]]:
        """Send ``body`` to the remote ``path``; return its answer or its stream of events."""
        body = {**body, "model": self.remote_name}
        stream = bool(body.get("stream"))
        try:
            sent = self.client.build_request("POST", self.url(path), json=body)
            response = await self.client.send(sent, stream=stream)
        except httpx.HTTPError as exc:
            raise RemoteError(502, f"the remote engine at {self.base_url} failed: {exc}") from None
        if response.status_code >= 400:
            await response.aread()
            raise _remote_error(response, self.base_url)
        if stream:
            return self._events(response, ctx)
        data = response.json()
        self._record(ctx, data.get("usage") or {})
        return data

    async def _events(
        self, response: httpx.Response, ctx: RequestContext
    ) -> AsyncIterator[dict[str, Any]]:
        try:
            async for line in response.aiter_lines():
                if not line.startswith("data:") or line[5:].strip() == "[DONE]":
                    continue
                event = json.loads(line[5:])
                if isinstance(event, dict):
                    if event.get("usage"):
                        self._record(ctx, event["usage"])
                    yield event
        except (httpx.HTTPError, ValueError) as exc:
            yield RemoteError(502, f"the remote engine at {self.base_url} failed: {exc}").body()
        finally:
            await response.aclose()

    @staticmethod
    def _record(ctx: RequestContext, usage: dict[str, Any]) -> None:
        ctx.metrics.prompt_tokens.inc(usage.get("prompt_tokens") or 0)
        ctx.metrics.generation_tokens.inc(usage.get("completion_tokens") or 0)

    def describe(self) -> dict[str, Any]:
        """Say where the model runs."""
        return {"remote": self.base_url}


def _remote_error(response: httpx.Response, base_url: str) -> RemoteError:
    try:
        body = response.json()
        message = body["error"]["message"]
    except (ValueError, KeyError, TypeError):
        body, message = None, response.text[:200]
    status = response.status_code if response.status_code < 500 else 502
    error = RemoteError(
        status, f"the remote engine at {base_url} answered {response.status_code}: {message}", body
    )
    if "retry-after" in response.headers:
        error.headers["Retry-After"] = response.headers["retry-after"]
    return error
