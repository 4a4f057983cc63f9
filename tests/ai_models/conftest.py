"""Fixtures for the AI Models Service: tiny random models built offline, real servers on
127.0.0.1 (ephemeral ports) and official ``openai`` clients pointed at them."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from models_helpers import API_KEY, chat_spec, embeddings_spec, make_settings, running_server

from ai_models.registry import ModelSpec
from ai_models.runner import BackgroundServer
from ai_models.tiny_models import build_tiny_causal_lm, build_tiny_classifier

SERVICE_ENV = (
    "MODEL_PATH",
    "MODEL_TYPE",
    "MODEL_ID",
    "HOST",
    "PORT",
    "MAX_BATCH_SIZE",
    "BATCH_WAIT_MS",
    "MAX_QUEUE_SIZE",
    "MAX_BODY_BYTES",
    "MAX_TOKENS",
    "MAX_MODEL_LEN",
    "MODEL_DEVICE",
    "MODEL_DTYPE",
    "MODEL_SERVER_API_KEYS",
    "MODEL_SERVER_API_KEYS_FILE",
    "AI_MODEL_API_KEY",
    "AI_MODEL_API_KEY_FILE",
    "AI_MODELS_URL",
    "AI_CHAT_MODEL",
    "AI_EMBEDDING_MODEL",
    "MODEL_SERVER_AUTH_EXEMPT_HEALTH",
    "SAGEMAKER_BIND_TO_PORT",
)


@pytest.fixture(autouse=True)
def _clean_service_env(request, monkeypatch, tmp_path) -> None:
    """Keep the developer's environment and registry out of the service's tests."""
    if "serving" in request.node.path.parts:  # the deployment generators' tests are not ours
        return
    for name in SERVICE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PAISSIVE_MODELS_HOME", str(tmp_path / "models-home"))


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory) -> str:
    """Return the folder of a tiny random Qwen2 chat model (ChatML template, 16k positions)."""
    return str(build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-lm"), context_length=16384))


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory) -> str:
    """Return the folder of a tiny random two-label classifier."""
    return str(build_tiny_classifier(tmp_path_factory.mktemp("tiny-cls")))


@pytest.fixture(scope="session")
def main_server(tiny_lm, tiny_classifier, tmp_path_factory) -> Iterator[BackgroundServer]:
    """One server for most tests: tiny chat, MiniLM embeddings and tiny classifier, keyed."""
    settings = make_settings(tmp_path_factory, MODEL_SERVER_API_KEYS=API_KEY, MAX_BATCH_SIZE=8)
    specs = [
        chat_spec(tiny_lm),
        embeddings_spec(),
        ModelSpec(
            name="tiny-cls",
            task="text-classification",
            backend="transformers",
            source=tiny_classifier,
        ),
    ]
    with running_server(settings, specs) as server:
        yield server


@pytest.fixture
def client(main_server) -> openai.OpenAI:
    """Return an official OpenAI client for the main server."""
    return openai.OpenAI(base_url=f"{main_server.url}/v1", api_key=API_KEY, max_retries=0)


@pytest.fixture
def auth() -> dict[str, str]:
    """Return the header that passes the main server's key check."""
    return {"Authorization": f"Bearer {API_KEY}"}
