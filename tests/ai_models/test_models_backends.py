"""Backends: loading failures in one line, the remote OpenAI-compatible backend, SageMaker
invocations, and unexpected errors that never leak a stack trace."""

from __future__ import annotations

import json
import shutil

import httpx
import openai
import pytest
from models_helpers import API_KEY, chat_spec, embeddings_spec, make_settings, running_server

from ai_models.backends import Backend, ServedModel, get_backend, register
from ai_models.config import load_settings
from ai_models.errors import ModelLoadError
from ai_models.metrics import ServerMetrics
from ai_models.registry import ModelSpec, Task


def load(spec: ModelSpec):
    return get_backend(spec.backend).load(
        spec, load_settings(device="cpu"), ServerMetrics().for_model(spec.name)
    )


def test_missing_folder_wrong_task_and_missing_files_are_one_line(
    tiny_lm, tiny_classifier, tmp_path
):
    cases = [
        (
            ModelSpec(name="a", task="chat", backend="transformers", source=str(tmp_path / "nope")),
            "the folder does not exist",
        ),
        (
            ModelSpec(name="b", task="chat", backend="transformers", source=tiny_classifier),
            "wrong task: its architecture Qwen2ForSequenceClassification is not a text-generation",
        ),
        (
            ModelSpec(name="c", task="text-classification", backend="transformers", source=tiny_lm),
            "wrong task: its architecture Qwen2ForCausalLM",
        ),
        (
            ModelSpec(name="d", task="chat", backend="transformers", source=str(tmp_path)),
            "missing files: no config.json",
        ),
    ]
    for spec, reason in cases:
        with pytest.raises(ModelLoadError) as caught:
            load(spec)
        message = str(caught.value)
        assert message.startswith(f"cannot load model '{spec.name}' from '")
        assert reason in message and "\n" not in message


def test_weights_missing_from_a_folder_is_one_line(tiny_lm, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_lm, broken)
    (broken / "model.safetensors").unlink()
    with pytest.raises(ModelLoadError) as caught:
        load(ModelSpec(name="e", task="chat", backend="transformers", source=str(broken)))
    assert str(caught.value).startswith(f"cannot load model 'e' from '{broken}': ")
    assert "\n" not in str(caught.value)


def test_hub_ids_load_from_the_standard_cache_and_fail_clearly_when_absent(
    tiny_lm, tmp_path, monkeypatch
):
    """A Hub id goes through snapshot_download: served from the HF cache when it is there (here
    the hub is unreachable), one clear line naming model, id, hub and cache when it is not."""
    from huggingface_hub import constants

    snapshot = tmp_path / "hub" / "models--acme--tiny-chat" / "snapshots" / "0123abcd"
    shutil.copytree(tiny_lm, snapshot)
    (snapshot.parents[1] / "refs").mkdir()
    (snapshot.parents[1] / "refs" / "main").write_text("0123abcd")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setattr(constants, "ENDPOINT", "http://127.0.0.1:9")
    model = load(
        ModelSpec(name="from-hub", task="chat", backend="transformers", source="acme/tiny-chat")
    )
    assert model.context_length == 16384
    model.close()
    with pytest.raises(ModelLoadError) as caught:
        load(ModelSpec(name="absent", task="chat", backend="transformers", source="acme/absent"))
    assert str(caught.value).startswith(
        "cannot load model 'absent' from 'acme/absent': cannot reach the Hugging Face Hub at "
        "http://127.0.0.1:9"
    )
    assert f"not in the local cache {tmp_path / 'hub'}" in str(caught.value)


@pytest.fixture(scope="module")
def upstream(tiny_lm, tmp_path_factory):
    """Our own server standing in for a remote OpenAI-compatible engine."""
    settings = make_settings(tmp_path_factory, MODEL_SERVER_API_KEYS=API_KEY)
    with running_server(
        settings, [chat_spec(tiny_lm, name="upstream-llm"), embeddings_spec()]
    ) as server:
        yield server


def test_remote_backend_forwards_chat_streams_and_embeddings(upstream, tmp_path_factory):
    specs = [
        ModelSpec(
            name="remote-chat",
            task="chat",
            backend="openai-compatible",
            source=f"{upstream.url}/v1",
            options={"remote_model": "upstream-llm"},
        ),
        ModelSpec(
            name="remote-embed",
            task="embeddings",
            backend="openai-compatible",
            source=f"{upstream.url}/v1",
            options={"remote_model": "minilm"},
        ),
    ]
    settings = make_settings(tmp_path_factory, AI_MODEL_API_KEY=API_KEY)
    with running_server(settings, specs) as proxy:
        client = openai.OpenAI(base_url=f"{proxy.url}/v1", api_key="none", max_retries=0)
        reply = client.chat.completions.create(
            model="remote-chat",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=4,
            response_format={"type": "json_object"},
        )
        assert reply.model == "remote-chat" and isinstance(
            json.loads(reply.choices[0].message.content), dict
        )
        chunks = list(
            client.chat.completions.create(
                model="remote-chat",
                messages=[{"role": "user", "content": "hi"}],
                max_tokens=4,
                stream=True,
                stream_options={"include_usage": True},
            )
        )
        assert chunks[-1].usage is not None and all(c.model == "remote-chat" for c in chunks)
        assert (
            len(client.embeddings.create(model="remote-embed", input="x").data[0].embedding) == 384
        )
        with pytest.raises(openai.BadRequestError) as caught:
            client.chat.completions.create(
                model="remote-chat", messages=[{"role": "user", "content": "x"}], max_tokens=99999
            )
        assert "MAX_TOKENS" in caught.value.body["message"]


def test_remote_backend_with_a_wrong_key_fails_to_load(upstream):
    spec = ModelSpec(
        name="r", task="chat", backend="openai-compatible", source=f"{upstream.url}/v1"
    )
    settings = load_settings(remote_api_key="wrong")
    with pytest.raises(ModelLoadError, match="refused the key: set AI_MODEL_API_KEY"):
        get_backend("openai-compatible").load(spec, settings, ServerMetrics().for_model("r"))
    spec = ModelSpec(
        name="r", task="chat", backend="openai-compatible", source="http://127.0.0.1:9/v1"
    )
    with pytest.raises(ModelLoadError, match="cannot reach it"):
        get_backend("openai-compatible").load(spec, settings, ServerMetrics().for_model("r"))


def test_sagemaker_ping_and_invocations(tiny_lm, tmp_path_factory):
    settings = make_settings(tmp_path_factory, MODEL_SERVER_API_KEYS=API_KEY)
    settings = settings.model_copy(update={"sagemaker": True})
    with running_server(settings, [chat_spec(tiny_lm), embeddings_spec()]) as server:
        assert httpx.get(f"{server.url}/ping").status_code == 200
        chat = httpx.post(
            f"{server.url}/invocations",
            json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3},
        ).json()
        assert chat["object"] == "chat.completion" and chat["model"] == "tiny-chat"
        vectors = httpx.post(
            f"{server.url}/invocations", json={"model": "minilm", "inputs": ["a"]}
        ).json()
        assert len(vectors["data"][0]["embedding"]) == 384
        bad = httpx.post(f"{server.url}/invocations", content=b"[1, 2]")
        assert bad.status_code == 400 and bad.json()["error"]["type"] == "invalid_request_error"
        invalid = httpx.post(f"{server.url}/invocations", json={"messages": "nope"})
        assert invalid.status_code == 400 and invalid.json()["error"]["param"] == "messages"


class _Broken(ServedModel):
    def render_chat(self, messages):
        raise RuntimeError("secret internals /etc/passwd")


@register
class BrokenBackend(Backend):
    """A backend whose chat crashes, to check the 500 shape."""

    name = "test-broken"
    tasks = (Task.TEXT_GENERATION,)

    def load(self, spec, settings, metrics):
        return _Broken(spec)


def test_an_unexpected_error_is_a_500_without_internals(tmp_path_factory):
    spec = ModelSpec(name="broken", task="chat", backend="test-broken", source="x/y")
    with running_server(make_settings(tmp_path_factory), [spec]) as server:
        response = httpx.post(
            f"{server.url}/v1/chat/completions",
            json={"model": "broken", "messages": [{"role": "user", "content": "x"}]},
        )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error" and response.headers["x-request-id"] in error["message"]
    assert "passwd" not in response.text and "Traceback" not in response.text
