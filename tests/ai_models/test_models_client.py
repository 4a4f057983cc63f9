"""``ai_models.client``: the same OpenAI client behaviour in-process and over HTTP."""

from __future__ import annotations

import asyncio
import json

import jsonschema
import openai
import pytest
from models_helpers import API_KEY, chat_spec, embeddings_spec, make_settings, running_server

from ai_models import client as model_client
from ai_models.registry import ModelRegistry

SCHEMA = {
    "type": "object",
    "properties": {"segment": {"type": "string"}, "size": {"type": "integer", "minimum": 0}},
    "required": ["segment", "size"],
}


@pytest.fixture(scope="module")
def home(tiny_lm, tmp_path_factory):
    """A models home whose registry names the tiny chat model."""
    folder = tmp_path_factory.mktemp("client-home")
    ModelRegistry(folder).add(chat_spec(tiny_lm))
    return folder


@pytest.fixture(scope="module")
def remote(tiny_lm, tmp_path_factory):
    """A model server the HTTP client talks to."""
    settings = make_settings(tmp_path_factory, MODEL_SERVER_API_KEYS=API_KEY)
    with running_server(settings, [chat_spec(tiny_lm), embeddings_spec()]) as server:
        yield server


@pytest.fixture(params=["in-process", "http"])
def service_settings(request, home, remote):
    """Settings for the in-process service, or pointing at ``remote`` via AI_MODELS_URL."""
    values = {"PAISSIVE_MODELS_HOME": str(home), "AI_CHAT_MODEL": "tiny-chat"}
    if request.param == "http":
        values.update(
            AI_MODELS_URL=remote.url, AI_MODEL_API_KEY=API_KEY, AI_EMBEDDING_MODEL="minilm"
        )
    yield make_settings(**values)
    model_client.shutdown()


def test_chat_embeddings_and_json_the_same_both_ways(service_settings):
    client = model_client.get_client(service_settings)
    assert isinstance(client, openai.OpenAI)
    chat = model_client.chat_model_name(service_settings)
    reply = client.chat.completions.create(
        model=chat,
        messages=[{"role": "user", "content": "Describe a segment."}],
        max_tokens=40,
        response_format={"type": "json_schema", "json_schema": {"name": "s", "schema": SCHEMA}},
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content), SCHEMA)
    streamed = client.chat.completions.create(
        model=chat,
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=5,
        stream=True,
        extra_body={"ignore_eos": True},
    )
    assert sum(1 for chunk in streamed if chunk.choices and chunk.choices[0].delta.content) >= 1
    vectors = client.embeddings.create(
        model=model_client.embedding_model_name(service_settings), input=["a", "b"]
    )
    assert [len(item.embedding) for item in vectors.data] == [384, 384]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])


def test_async_client_works_both_ways(service_settings):
    async def ask() -> str:
        client = model_client.get_async_client(service_settings)
        reply = await client.completions.create(
            model=model_client.chat_model_name(service_settings), prompt="x", max_tokens=3
        )
        return reply.object

    assert asyncio.run(ask()) == "text_completion"


def test_in_process_service_needs_its_own_key(home):
    settings = make_settings(PAISSIVE_MODELS_HOME=str(home), AI_CHAT_MODEL="tiny-chat")
    try:
        service = model_client.local_service(settings)
        assert service.base_url.startswith("http://127.0.0.1:")
        assert model_client.local_service(settings) is service
        stranger = openai.OpenAI(base_url=service.base_url, api_key="guess", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            stranger.models.list()
    finally:
        model_client.shutdown()


def test_models_url_without_path_gets_v1():
    assert model_client._base_url("http://models:8000") == "http://models:8000/v1"
    assert model_client._base_url("http://localhost:11434/v1/") == "http://localhost:11434/v1"
