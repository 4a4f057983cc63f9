"""Cost controls of the model server: schema limits, the compile deadline, a bounded grammar
cache, and a queue that counts sequences (prompts x n), checked before any work is done."""

from __future__ import annotations

import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor

import openai
import pytest
from models_helpers import chat_spec, make_settings, running_server
from transformers import AutoTokenizer

from ai_models.engine import schema_limits as limits
from ai_models.engine.grammar import JsonGrammar
from ai_models.errors import InvalidRequestError, QueueFullError

PARAM = "response_format.json_schema.schema"
MESSAGES = [{"role": "user", "content": "Give me JSON"}]


def objects(n: int, *, required: bool = False, prefix: str = "p") -> dict:
    schema = {
        "type": "object",
        "properties": {f"{prefix}{i}": {"type": "string"} for i in range(n)},
    }
    if required:
        schema["required"] = list(schema["properties"])
    return schema


def nested(depth: int) -> dict:
    schema: dict = {"type": "string"}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"a": schema}}
    return schema


HOSTILE = {
    "30k properties (1.2 MB)": (objects(30_000, required=True), "an object with 30000 properties"),
    "50k enum values": ({"enum": [f"value-{i}" for i in range(50_000)]}, "more than 1024 enum"),
    "properties spread over objects": (
        {"type": "object", "properties": {f"o{i}": objects(200) for i in range(8)}},
        "more than 1024 properties",
    ),
    "deep nesting": (nested(200), "nesting deeper than 32"),
    "huge maxLength": ({"type": "string", "maxLength": 10**9}, "maxLength is 1000000000"),
    "huge minItems": ({"type": "array", "minItems": 10**6}, "minItems is 1000000"),
    "nested repetitions": ({"type": "string", "pattern": "^(a{1,100}){1,100}$"}, "unroll"),
    "long pattern": ({"type": "string", "pattern": "a" * 5000}, "5000 characters"),
    "long strings": ({"description": "x" * 70_000}, "more than 65536 characters"),
}


def ask(client, schema, **kwargs):
    return client.chat.completions.create(
        model="tiny-chat",
        messages=MESSAGES,
        max_tokens=8,
        response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        **kwargs,
    )


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_schemas_are_refused_before_compiling(client, name):
    schema, message = HOSTILE[name]
    started = time.monotonic()
    with pytest.raises(openai.BadRequestError) as refused:
        ask(client, schema)
    assert time.monotonic() - started < 5, "refused before compiling, not after"
    assert refused.value.body["param"] == PARAM
    assert message in refused.value.body["message"]


def test_schemas_a_model_really_needs_are_served(client):
    schema = objects(limits.MAX_OBJECT_PROPERTIES - 1, required=False)
    schema["properties"]["code"] = {"type": "string", "pattern": "^[A-Z]{2}-[0-9]{1,64}$"}
    reply = ask(client, schema)
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_pattern_size_unrolls_nested_repetitions_only():
    assert limits.pattern_size("^[a-z]{1,64}@[a-z]{1,255}$") == 64 + 1 + 255
    assert limits.pattern_size("(ab){3}") == 6
    assert limits.pattern_size("((a{10}){10}){10}") == 1000
    assert limits.pattern_size(r"[\]{]{5}\{2}") == 5 + 3  # an escaped brace is a literal


@pytest.fixture(scope="module")
def tokenizer(tiny_lm):
    return AutoTokenizer.from_pretrained(tiny_lm)


def grammar_for(tokenizer, **kwargs) -> JsonGrammar:
    return JsonGrammar(
        tokenizer, vocab_size=len(tokenizer), stop_token_ids=[tokenizer.eos_token_id], **kwargs
    )


def fmt(schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"schema": schema}}


def test_the_grammar_cache_stays_within_its_size_and_reuses_entries(tokenizer):
    grammar = grammar_for(tokenizer, cache_size=8)
    first = grammar.compile(fmt(objects(100, required=True, prefix="s0_")))
    assert grammar.compile(fmt(objects(100, required=True, prefix="s0_"))) is first
    for i in range(1, 64):
        grammar.compile(fmt(objects(100, required=True, prefix=f"s{i}_")))
        assert grammar.cached <= 8
    assert grammar.compile(fmt(objects(100, required=True, prefix="s0_"))) is not first, "evicted"
    grammar.close()


def test_a_compile_past_its_deadline_is_refused_and_the_next_waits_its_turn(tokenizer):
    # A deadline far below the slow schema's compile time (~0.2 s for 256 optional properties,
    # less on an idle fast core), so the outcome does not depend on how busy the machine is.
    grammar = grammar_for(tokenizer, compile_timeout_s=0.002)
    slow = fmt(objects(limits.MAX_OBJECT_PROPERTIES))

    async def two_at_once():
        return await asyncio.gather(
            grammar.compile_within_deadline(slow),
            grammar.compile_within_deadline(fmt(objects(3))),
            return_exceptions=True,
        )

    too_slow, waiting = asyncio.run(two_at_once())
    grammar.close()
    assert isinstance(too_slow, InvalidRequestError) and too_slow.param == PARAM
    assert "took longer than 0.002 s" in too_slow.message
    assert isinstance(waiting, QueueFullError), "one compile at a time: the second never started"


@pytest.fixture(scope="module")
def eight_seat_server(tiny_lm, tmp_path_factory):
    """One running slot; eight sequences may wait."""
    settings = make_settings(tmp_path_factory, MAX_BATCH_SIZE=1, MAX_QUEUE_SIZE=8)
    with running_server(settings, [chat_spec(tiny_lm)]) as server:
        yield server


def sdk(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0)


def test_a_request_with_n_8_counts_8_against_the_queue(eight_seat_server):
    client = sdk(eight_seat_server)
    long = {"max_tokens": 3000, "extra_body": {"ignore_eos": True}}
    with ThreadPoolExecutor(2) as pool:
        running = pool.submit(client.completions.create, model="tiny-chat", prompt="x", **long)
        time.sleep(0.3)  # it holds the only slot; nothing waits
        eight = pool.submit(client.completions.create, model="tiny-chat", prompt="y", n=8, **long)
        time.sleep(0.3)
        with pytest.raises(openai.RateLimitError) as full:
            client.completions.create(model="tiny-chat", prompt="z", max_tokens=1)
        assert "8 sequences are waiting" in full.value.body["message"]
        assert full.value.response.headers["retry-after"] == "1"
        with pytest.raises(openai.RateLimitError):  # the check comes before the schema compiles
            ask(client, objects(3))
        assert len(eight.result().choices) == 8 and running.result().choices
    assert client.completions.create(model="tiny-chat", prompt="z", max_tokens=1).choices


def test_a_request_costlier_than_the_whole_queue_is_a_400(eight_seat_server):
    client = sdk(eight_seat_server)
    with pytest.raises(openai.BadRequestError) as too_many:
        client.completions.create(model="tiny-chat", prompt=["a", "b", "c"], n=3, max_tokens=1)
    body = too_many.value.body
    assert body["param"] == "prompt"
    assert "9 sequences (3 prompts x n=3)" in body["message"]
    assert "MAX_QUEUE_SIZE=8" in body["message"]
