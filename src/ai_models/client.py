"""The one way the rest of pAIssive Income talks to models: an official ``openai`` client.

    from ai_models.client import chat_model_name, embedding_model_name, get_client

    client = get_client()                      # an openai.OpenAI
    reply = client.chat.completions.create(
        model=chat_model_name(),
        messages=[{"role": "user", "content": "Name three niches."}],
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": {...}}},
    )
    vectors = client.embeddings.create(model=embedding_model_name(), input=["a", "b"])

Where the models run is configuration only:

* ``AI_MODELS_URL`` set (e.g. ``http://models:8000/v1``): the client talks to that server —
  ours (``paissive-income models serve``), vLLM, Ollama, LM Studio or OpenAI — with
  ``AI_MODEL_API_KEY`` as its key.
* Not set (``python run_ui.py``): the AI Models Service starts inside this process, once, on an
  ephemeral 127.0.0.1 port behind a random key, serving every registry model; each model loads
  on its first request (the default chat model downloads from the Hugging Face Hub then).

Both ways go through the same HTTP server code, so they behave the same. ``get_async_client``
returns an ``openai.AsyncOpenAI`` the same way.
"""

from __future__ import annotations

import atexit
import secrets
import threading
from urllib.parse import urlsplit

import openai
from pydantic import SecretStr

from ai_models.config import ModelServiceSettings, load_settings

_lock = threading.Lock()
_services: dict[str, LocalService] = {}


class LocalService:
    """The AI Models Service running in this process, reachable only with its random key."""

    def __init__(self, settings: ModelServiceSettings) -> None:
        from ai_models.app import create_app
        from ai_models.runner import BackgroundServer
        from ai_models.selection import in_process_specs

        self.api_key = secrets.token_urlsafe(32)
        settings = settings.model_copy(update={"api_keys": [SecretStr(self.api_key)]})
        app = create_app(settings, specs=in_process_specs(settings), lazy=True)
        self.server = BackgroundServer(app).start()
        self.base_url = f"{self.server.url}/v1"

    def stop(self) -> None:
        """Stop the server thread."""
        self.server.stop()


def local_service(settings: ModelServiceSettings | None = None) -> LocalService:
    """Return the in-process service for ``settings``, starting it on first use."""
    settings = settings or load_settings()
    key = settings.model_dump_json()
    with _lock:
        if key not in _services:
            _services[key] = LocalService(settings)
        return _services[key]


def _base_url(url: str) -> str:
    """Return an OpenAI base URL: a bare host gets ``/v1``."""
    return url.rstrip("/") + "/v1" if urlsplit(url).path in ("", "/") else url.rstrip("/")


def _connection(settings: ModelServiceSettings | None) -> tuple[str, str]:
    settings = settings or load_settings()
    if settings.models_url:
        key = settings.remote_api_key.get_secret_value() if settings.remote_api_key else "none"
        return _base_url(settings.models_url), key
    service = local_service(settings)
    return service.base_url, service.api_key


def get_client(
    settings: ModelServiceSettings | None = None, *, timeout: float = 600, max_retries: int = 2
) -> openai.OpenAI:
    """Return an ``openai.OpenAI`` for the AI Models Service (remote or in-process)."""
    base_url, key = _connection(settings)
    return openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout, max_retries=max_retries)


def get_async_client(
    settings: ModelServiceSettings | None = None, *, timeout: float = 600, max_retries: int = 2
) -> openai.AsyncOpenAI:
    """Return an ``openai.AsyncOpenAI`` for the AI Models Service (remote or in-process)."""
    base_url, key = _connection(settings)
    return openai.AsyncOpenAI(
        base_url=base_url, api_key=key, timeout=timeout, max_retries=max_retries
    )


def chat_model_name(settings: ModelServiceSettings | None = None) -> str:
    """Return the model name to send for chat (``AI_CHAT_MODEL``)."""
    return (settings or load_settings()).chat_model


def embedding_model_name(settings: ModelServiceSettings | None = None) -> str:
    """Return the model name to send for embeddings (``AI_EMBEDDING_MODEL``)."""
    return (settings or load_settings()).embedding_model


@atexit.register
def shutdown() -> None:
    """Stop every in-process service."""
    with _lock:
        for service in _services.values():
            service.stop()
        _services.clear()
