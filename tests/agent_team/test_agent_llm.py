"""StructuredCaller through the real ``openai`` SDK against a scripted chat server."""

from __future__ import annotations

import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import openai
import pytest
from pydantic import BaseModel, Field

from agent_team.llm import (
    BudgetExceeded,
    CallUsage,
    ModelUnavailableError,
    Price,
    StructuredCaller,
    StructuredOutputError,
    UsageMeter,
    cache_key,
)
from paissive_income.cache import DiskCache, RedisCache


class Niche(BaseModel):
    """A tiny output type for the tests."""

    name: str = Field(min_length=1, max_length=40)
    importance: int = Field(ge=1, le=10)


class ScriptedServer:
    """An OpenAI chat endpoint that answers with scripted contents and records each request."""

    def __init__(self, replies: list[str], *, usage: tuple[int, int] = (100, 20)) -> None:
        self.replies = list(replies)
        self.requests: list[dict] = []
        self.usage = usage
        self._lock = threading.Lock()

    def handler(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        with self._lock:
            self.requests.append(body)
            content = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        prompt, completion = self.usage
        return httpx.Response(200, json=_completion(body["model"], content, prompt, completion))

    def client(self) -> openai.OpenAI:
        transport = httpx.MockTransport(self.handler)
        return openai.OpenAI(
            base_url="http://models.test/v1",
            api_key="k",
            max_retries=0,
            http_client=httpx.Client(transport=transport),
        )


def _completion(model: str, content: str, prompt: int, completion: int) -> dict:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }


MESSAGES = [{"role": "user", "content": "Propose one niche for freelance translators."}]
GOOD = json.dumps({"name": "Legal translation QA", "importance": 8})


def _call(caller: StructuredCaller, meter: UsageMeter | None = None, **kw):
    return caller.call(Niche, model="m", messages=MESSAGES, meter=meter or UsageMeter(), **kw)


def test_valid_reply_is_parsed_and_sent_with_its_schema():
    server = ScriptedServer([GOOD])
    result = _call(StructuredCaller(server.client()))
    assert result.value == Niche(name="Legal translation QA", importance=8)
    assert result.attempts == 1
    (request,) = server.requests
    assert request["response_format"]["type"] == "json_schema"
    assert request["response_format"]["json_schema"]["schema"] == Niche.model_json_schema()
    assert request["temperature"] == 0.0


def test_invalid_reply_goes_back_with_the_error_and_the_retry_is_used():
    server = ScriptedServer([json.dumps({"name": "x", "importance": 1000}), GOOD])
    meter = UsageMeter()
    result = _call(StructuredCaller(server.client()), meter)
    assert result.value.importance == 8 and result.attempts == 2
    retry = server.requests[1]["messages"]
    assert retry[: len(MESSAGES)] == MESSAGES
    assert retry[-2] == {"role": "assistant", "content": '{"name": "x", "importance": 1000}'}
    assert (
        "importance" in retry[-1]["content"] and "less than or equal to 10" in retry[-1]["content"]
    )
    assert meter.prompt_tokens == 200 and meter.completion_tokens == 40  # both calls counted


@pytest.mark.parametrize(
    ("reply", "field"),
    [
        (json.dumps({"name": "", "importance": 5}), "name"),
        (json.dumps({"name": "ok"}), "importance"),
        ("Sure! Here is a niche: translators", "(root)"),
        ("", "(root)"),
    ],
)
def test_output_still_invalid_after_the_budget_fails_naming_the_field(reply, field):
    server = ScriptedServer([reply])
    with pytest.raises(StructuredOutputError) as caught:
        _call(StructuredCaller(server.client(), retry_budget=2))
    assert caught.value.field == field
    assert "after 3 attempts" in str(caught.value)
    assert len(server.requests) == 3  # one call and exactly two retries, never a made-up value


def test_zero_retry_budget_makes_one_call():
    server = ScriptedServer(["not json"])
    with pytest.raises(StructuredOutputError):
        _call(StructuredCaller(server.client(), retry_budget=0))
    assert len(server.requests) == 1


@pytest.fixture(params=["disk", "redis"])
def cache(request, tmp_path):
    if request.param == "disk":
        backend = DiskCache(tmp_path / "cache")
    else:
        backend = RedisCache(request.getfixturevalue("redis_url"), prefix=f"t{uuid.uuid4().hex}:")
    yield backend
    backend.close()


def test_identical_call_is_answered_from_the_cache_with_no_model_call(cache):
    server = ScriptedServer([GOOD])
    caller = StructuredCaller(server.client(), cache=cache, prices={"m": Price(1.0, 2.0)})
    first = _call(caller)
    meter = UsageMeter()
    second = _call(caller, meter)
    assert len(server.requests) == 1
    assert second.value == first.value and second.usage.cached
    assert meter.total_tokens == 0 and meter.cost_usd == 0
    _call(caller, temperature=0.7)  # other parameters: another key, another call
    assert len(server.requests) == 2


def test_invalid_replies_are_never_cached(cache):
    server = ScriptedServer(["nope"])
    caller = StructuredCaller(server.client(), cache=cache, retry_budget=0)
    for _ in range(2):
        with pytest.raises(StructuredOutputError):
            _call(caller)
    assert len(server.requests) == 2


def test_cache_key_covers_model_messages_schema_and_parameters():
    base = {"model": "m", "messages": MESSAGES, "schema": {"a": 1}, "params": {"t": 0}}
    keys = {
        cache_key(**base),
        cache_key(**{**base, "model": "n"}),
        cache_key(**{**base, "messages": [{"role": "user", "content": "other"}]}),
        cache_key(**{**base, "schema": {"a": 2}}),
        cache_key(**{**base, "params": {"t": 1}}),
    }
    assert len(keys) == 5
    assert cache_key(**base) == cache_key(**dict(reversed(list(base.items()))))


def test_cost_follows_the_price_table_and_local_models_cost_nothing():
    server = ScriptedServer([GOOD], usage=(1_000, 500))
    meter = UsageMeter()
    caller = StructuredCaller(server.client(), prices={"m": Price(0.15, 0.60)})
    result = _call(caller, meter)
    # 1,000 × $0.15/M + 500 × $0.60/M = $0.00015 + $0.0003
    assert result.usage.cost_usd == pytest.approx(0.00045)
    assert meter.cost_usd == pytest.approx(0.00045)
    free = _call(StructuredCaller(server.client()))
    assert free.usage.cost_usd == 0


def test_token_cap_stops_the_run_and_makes_no_further_call():
    server = ScriptedServer([GOOD], usage=(100, 20))
    meter = UsageMeter(token_cap=200)
    caller = StructuredCaller(server.client())
    _call(caller, meter)  # 120 tokens
    with pytest.raises(BudgetExceeded, match="240 of 200"):
        _call(caller, meter)
    with pytest.raises(BudgetExceeded):
        _call(caller, meter)
    assert len(server.requests) == 2


def test_meter_totals_are_exact_under_concurrent_calls():
    meter = UsageMeter()
    usage = CallUsage(model="m", prompt_tokens=3, completion_tokens=2, cost_usd=0.5)
    with ThreadPoolExecutor(30) as pool:
        list(pool.map(lambda _: [meter.record(usage) for _ in range(100)], range(30)))
    assert (meter.prompt_tokens, meter.completion_tokens) == (9_000, 6_000)
    assert meter.cost_usd == pytest.approx(1_500) and len(meter.calls) == 3_000


def test_unreachable_server_is_one_clear_error():
    client = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="k", max_retries=0)
    with pytest.raises(ModelUnavailableError, match="cannot be reached"):
        _call(StructuredCaller(client))


def test_server_refusal_names_the_model_and_the_servers_message():
    def refuse(request: httpx.Request) -> httpx.Response:
        error = {"message": "model 'm' is not served here", "type": "invalid_request_error"}
        return httpx.Response(404, json={"error": error})

    client = openai.OpenAI(
        base_url="http://models.test/v1",
        api_key="k",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    with pytest.raises(ModelUnavailableError, match="'m'.*404.*not served here") as caught:
        _call(StructuredCaller(client))
    assert "AI_MODELS_URL" in str(caught.value) and "AGENT_MODEL" in str(caught.value)
