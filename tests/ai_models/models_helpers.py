"""Helpers shared by the AI Models Service tests (settings, specs, servers on ephemeral ports)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from ai_models.app import create_app
from ai_models.config import ModelServiceSettings
from ai_models.registry import PACKAGED_EMBEDDINGS, ModelOptions, ModelSpec
from ai_models.runner import BackgroundServer

API_KEY = "test-key"


def make_settings(tmp_path_factory: Any = None, **values: Any) -> ModelServiceSettings:
    """Build settings for a test server, independent of the environment."""
    defaults = {
        "MODEL_DEVICE": "cpu",
        "MODEL_DTYPE": "auto",
        "LOG_LEVEL": "WARNING",
        "BATCH_WAIT_MS": 5,
        "MAX_BATCH_SIZE": 8,
        "MAX_QUEUE_SIZE": 256,
        "MAX_BODY_BYTES": 2 * 1024 * 1024,
        "MAX_TOKENS": 4096,
        "MODEL_SERVER_AUTH_EXEMPT_HEALTH": True,
        "MODEL_SERVER_API_KEYS": "",
    }
    values = {**defaults, **values}
    if tmp_path_factory is not None:
        values.setdefault("PAISSIVE_MODELS_HOME", str(tmp_path_factory.mktemp("home")))
    return ModelServiceSettings(**values)


def chat_spec(path: str, name: str = "tiny-chat", context_length: int = 4096) -> ModelSpec:
    """Return the spec of the tiny chat model, its context cut to ``context_length``."""
    return ModelSpec(
        name=name,
        task="text-generation",
        backend="transformers",
        source=path,
        options=ModelOptions(context_length=context_length),
    )


def embeddings_spec() -> ModelSpec:
    """Return the spec of the packaged MiniLM embeddings model."""
    return ModelSpec(
        name="minilm",
        task="embeddings",
        backend="sentence-transformers",
        source=PACKAGED_EMBEDDINGS,
    )


def wait_ready(url: str, timeout: float = 120, headers: dict | None = None) -> None:
    """Wait until ``/readyz`` answers 200."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if httpx.get(f"{url}/readyz", headers=headers).status_code == 200:
            return
        time.sleep(0.05)
    raise AssertionError(f"{url} never became ready")


@contextmanager
def running_server(
    settings: ModelServiceSettings, specs: list[ModelSpec], *, wait: bool = True, **kw: Any
) -> Iterator[BackgroundServer]:
    """Serve ``specs`` on an ephemeral port until the block ends (ready on entry if ``wait``)."""
    server = BackgroundServer(create_app(settings, specs=specs, **kw)).start()
    try:
        if wait and not kw.get("lazy"):
            wait_ready(server.url, headers={"Authorization": f"Bearer {API_KEY}"})
        yield server
    finally:
        server.stop()
