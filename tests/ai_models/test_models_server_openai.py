"""The server speaks OpenAI's API: checked with the official ``openai`` SDK over real HTTP."""

from __future__ import annotations

import base64
import json

import httpx
import jsonschema
import numpy as np
import openai
import pytest

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}]
PLAN_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "price": {"type": "number", "minimum": 0},
        "tier": {"enum": ["free", "pro", "team"]},
        "features": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "launch": {
            "type": "object",
            "properties": {"month": {"type": "integer"}, "public": {"type": "boolean"}},
            "required": ["month", "public"],
        },
    },
    "required": ["name", "price", "tier", "features", "launch"],
}


def test_lists_served_models(client):
    ids = {model.id for model in client.models.list()}
    assert ids == {"tiny-chat", "minilm", "tiny-cls"}
    assert client.models.retrieve("tiny-chat").id == "tiny-chat"


def test_chat_completion_has_text_and_usage(client):
    reply = client.chat.completions.create(model="tiny-chat", messages=MESSAGES, max_tokens=12)
    choice = reply.choices[0]
    assert reply.object == "chat.completion" and reply.model == "tiny-chat"
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 5
    assert 1 <= reply.usage.completion_tokens <= 12
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_same_seed_gives_same_text_and_n_gives_choices(client):
    kwargs = {"model": "tiny-chat", "messages": MESSAGES, "max_tokens": 20, "seed": 7}
    first = client.chat.completions.create(**kwargs, extra_body={"ignore_eos": True})
    second = client.chat.completions.create(**kwargs, extra_body={"ignore_eos": True})
    assert first.choices[0].message.content == second.choices[0].message.content
    several = client.chat.completions.create(**kwargs, n=3, extra_body={"ignore_eos": True})
    assert [c.index for c in several.choices] == [0, 1, 2]
    texts = [c.message.content for c in several.choices]
    assert len(set(texts)) == 3, "each choice draws from its own seed (seed + index)"
    assert texts[0] == first.choices[0].message.content, "choice 0 uses the seed itself"


def test_streamed_chat_matches_openai_chunks_and_usage(client):
    stream = client.chat.completions.create(
        model="tiny-chat",
        messages=MESSAGES,
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
        temperature=0,
        extra_body={"ignore_eos": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 16
    streamed = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    whole = client.chat.completions.create(
        model="tiny-chat",
        messages=MESSAGES,
        max_tokens=16,
        temperature=0,
        extra_body={"ignore_eos": True},
    )
    assert streamed == whole.choices[0].message.content


def test_text_completions_whole_and_streamed(client):
    whole = client.completions.create(
        model="tiny-chat", prompt="Once upon", max_tokens=8, temperature=0, echo=True
    )
    assert whole.object == "text_completion" and whole.choices[0].text.startswith("Once upon")
    parts = client.completions.create(
        model="tiny-chat", prompt=["a", "b"], max_tokens=4, stream=True, temperature=0
    )
    indexes = {choice.index for chunk in parts for choice in chunk.choices}
    assert indexes == {0, 1}


def test_stop_string_ends_the_text(client):
    whole = client.completions.create(
        model="tiny-chat", prompt="x", max_tokens=60, temperature=0, extra_body={"ignore_eos": True}
    )
    text = whole.choices[0].text
    stop = text[10:12]
    cut = client.completions.create(
        model="tiny-chat",
        prompt="x",
        max_tokens=60,
        temperature=0,
        stop=[stop],
        extra_body={"ignore_eos": True},
    )
    assert cut.choices[0].text == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


@pytest.mark.parametrize("max_tokens", [3, 40, 300])
@pytest.mark.parametrize("temperature", [0.0, 1.5])
def test_json_schema_output_always_parses_and_validates(client, max_tokens, temperature):
    reply = client.chat.completions.create(
        model="tiny-chat",
        messages=MESSAGES,
        max_tokens=max_tokens,
        temperature=temperature,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "plan", "schema": PLAN_SCHEMA, "strict": True},
        },
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content), PLAN_SCHEMA)
    assert reply.choices[0].finish_reason == "stop"


def test_json_object_mode_streams_an_object(client):
    stream = client.chat.completions.create(
        model="tiny-chat",
        messages=MESSAGES,
        max_tokens=30,
        stream=True,
        response_format={"type": "json_object"},
    )
    text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    assert isinstance(json.loads(text), dict)


def test_invalid_schema_is_a_400_naming_the_parameter(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model="tiny-chat",
            messages=MESSAGES,
            response_format={
                "type": "json_schema",
                "json_schema": {"name": "x", "schema": {"type": "nope"}},
            },
        )
    assert caught.value.body["param"] == "response_format.json_schema.schema"


def test_embeddings_float_and_base64_agree(client):
    floats = client.embeddings.create(
        model="minilm", input=["a cat", "a dog"], encoding_format="float"
    )
    packed = client.embeddings.create(model="minilm", input=["a cat", "a dog"])  # SDK asks base64
    assert [d.index for d in floats.data] == [0, 1]
    assert len(floats.data[0].embedding) == 384
    assert np.allclose(floats.data[1].embedding, packed.data[1].embedding, atol=1e-6)
    assert floats.usage.prompt_tokens == floats.usage.total_tokens > 4
    assert abs(np.linalg.norm(floats.data[0].embedding) - 1) < 1e-4
    raw = httpx.post(
        f"{client.base_url}embeddings",
        headers={"Authorization": f"Bearer {client.api_key}"},
        json={"model": "minilm", "input": "x", "encoding_format": "base64"},
    ).json()
    assert len(np.frombuffer(base64.b64decode(raw["data"][0]["embedding"]), "<f4")) == 384


def test_classification_returns_labels_and_probabilities(main_server, auth):
    body = httpx.post(
        f"{main_server.url}/v1/classify",
        headers=auth,
        json={"model": "tiny-cls", "input": ["a", "b"]},
    ).json()
    assert [item["label"] in ("negative", "positive") for item in body["data"]] == [True, True]
    assert abs(sum(body["data"][0]["probs"]) - 1) < 1e-5


def test_bad_key_is_an_authentication_error(main_server):
    for key in ("wrong", ""):
        bad = openai.OpenAI(base_url=f"{main_server.url}/v1", api_key=key or "x", max_retries=0)
        if not key:
            bad = bad.with_options(default_headers={"Authorization": ""})
        with pytest.raises(openai.AuthenticationError) as caught:
            bad.models.list()
        assert caught.value.body["type"] == "authentication_error"


def test_unknown_model_is_404_and_wrong_task_is_400(client):
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-9", messages=MESSAGES)
    assert missing.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as wrong:
        client.embeddings.create(model="tiny-chat", input="x")
    assert "does not serve embeddings" in wrong.value.body["message"]


def test_limits_are_400s_naming_the_limit(client):
    with pytest.raises(openai.BadRequestError) as too_many:
        client.chat.completions.create(model="tiny-chat", messages=MESSAGES, max_tokens=5000)
    assert "MAX_TOKENS=4096" in too_many.value.body["message"]
    assert too_many.value.body["param"] == "max_tokens"
    with pytest.raises(openai.BadRequestError) as too_long:
        client.chat.completions.create(
            model="tiny-chat",
            messages=[{"role": "user", "content": "word " * 3000}],
            max_tokens=2000,
        )
    assert too_long.value.body["code"] == "context_length_exceeded"
    assert "maximum context length is 4096 tokens" in too_long.value.body["message"]


def test_malformed_requests_get_openai_errors_without_traces(main_server, auth):
    cases = [
        ({"model": "tiny-chat"}, "messages"),
        ({"model": "tiny-chat", "messages": MESSAGES, "temperature": 9}, "temperature"),
        ({"model": "tiny-chat", "messages": MESSAGES, "tools": [{"type": "function"}]}, "tools"),
    ]
    for body, param in cases:
        response = httpx.post(f"{main_server.url}/v1/chat/completions", headers=auth, json=body)
        assert response.status_code == 400
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error" and error["param"] == param
        assert "Traceback" not in response.text
    broken = httpx.post(
        f"{main_server.url}/v1/chat/completions",
        headers={**auth, "content-type": "application/json"},
        content=b"{not json",
    )
    assert broken.status_code == 400 and "error" in broken.json()
    wrong_method = httpx.delete(f"{main_server.url}/v1/chat/completions", headers=auth)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"]["code"] == "method_not_allowed"
    missing = httpx.get(f"{main_server.url}/v2/nothing", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_request_id_is_returned(main_server, auth):
    response = httpx.get(
        f"{main_server.url}/v1/models", headers={**auth, "X-Request-ID": "abc-123"}
    )
    assert response.headers["x-request-id"] == "abc-123"
    assert len(httpx.get(f"{main_server.url}/healthz").headers["x-request-id"]) == 32


ESTIMATE = {
    "type": "object",
    "properties": {
        "value": {"type": "number", "minimum": 0, "maximum": 1e9},
        "rationale": {"type": "string", "minLength": 1, "maxLength": 200},
        "confidence": {"enum": ["low", "medium", "high"]},
    },
    "required": ["value", "rationale", "confidence"],
    "additionalProperties": False,
}
# Required fields with long names: closing it from the start takes ~400 of this tiny tokenizer's
# tokens, far more than the last few dozen of a budget, but within max_tokens + the allowance.
WIDE_SCHEMA = {
    "type": "object",
    "properties": {f"estimate_of_quantity_number_{i}": ESTIMATE for i in range(5)},
    "required": [f"estimate_of_quantity_number_{i}" for i in range(5)],
    "additionalProperties": False,
}


@pytest.mark.parametrize("max_tokens", [200, 400, 900])
def test_json_with_a_long_way_out_still_closes(client, max_tokens):
    reply = client.chat.completions.create(
        model="tiny-chat",
        messages=MESSAGES,
        max_tokens=max_tokens,
        temperature=1.5,
        seed=7,
        response_format={
            "type": "json_schema",
            "json_schema": {"name": "wide", "schema": WIDE_SCHEMA, "strict": True},
        },
    )
    jsonschema.validate(json.loads(reply.choices[0].message.content), WIDE_SCHEMA)
