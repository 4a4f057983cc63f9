"""Backpressure and limits: 429 with Retry-After when the queue is full, 413 for big bodies,
and a client that disconnects frees its slot at once."""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import openai
import pytest
from models_helpers import chat_spec, make_settings, running_server

LONG = {"max_tokens": 15000, "extra_body": {"ignore_eos": True}}  # ~15 s of work


@pytest.fixture(scope="module")
def one_slot_server(tiny_lm, tmp_path_factory):
    """A server that runs one request at a time and lets one more wait."""
    settings = make_settings(
        tmp_path_factory, MAX_BATCH_SIZE=1, MAX_QUEUE_SIZE=1, MAX_BODY_BYTES=4096, MAX_TOKENS=16000
    )
    with running_server(settings, [chat_spec(tiny_lm, context_length=16384)]) as server:
        yield server


def sdk(server, **options) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0, **options)


def quick(server) -> float:
    """Time a short request that needs the only slot."""
    started = time.monotonic()
    sdk(server).completions.create(model="tiny-chat", prompt="x", max_tokens=2)
    return time.monotonic() - started


def test_a_burst_past_the_queue_gets_429_with_retry_after(one_slot_server):
    client = sdk(one_slot_server)

    def ask(_: int):
        try:
            client.completions.create(
                model="tiny-chat", prompt="x", max_tokens=1000, extra_body={"ignore_eos": True}
            )
            return None
        except openai.RateLimitError as error:
            return error

    with ThreadPoolExecutor(6) as pool:
        outcomes = list(pool.map(ask, range(6)))
    refused = [error for error in outcomes if error is not None]
    assert 1 <= len(refused) <= 4, "two fit (one running, one waiting); the rest are refused"
    assert all(int(error.response.headers["retry-after"]) >= 1 for error in refused)
    assert refused[0].body["code"] == "queue_full"
    assert "MAX_QUEUE_SIZE=1" in refused[0].body["message"]


def test_oversized_bodies_get_413_declared_or_streamed(one_slot_server):
    big = {"model": "tiny-chat", "prompt": "x" * 5000}
    declared = httpx.post(f"{one_slot_server.url}/v1/completions", json=big)
    assert declared.status_code == 413
    assert declared.json()["error"]["code"] == "request_too_large"

    def chunks():
        yield b'{"model": "tiny-chat", "prompt": "'
        for _ in range(10):
            yield b"x" * 1000
        yield b'"}'

    streamed = httpx.post(
        f"{one_slot_server.url}/v1/completions",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert streamed.status_code == 413
    with pytest.raises(openai.APIStatusError) as caught:
        sdk(one_slot_server).completions.create(model="tiny-chat", prompt="y" * 5000)
    assert caught.value.status_code == 413


def test_a_disconnected_stream_frees_its_slot(one_slot_server):
    with httpx.stream(
        "POST",
        f"{one_slot_server.url}/v1/completions",
        json={
            "model": "tiny-chat",
            "prompt": "x",
            "stream": True,
            "max_tokens": 15000,
            "ignore_eos": True,
        },
    ) as response:
        next(response.iter_lines())
    assert quick(one_slot_server) < 2


def test_a_client_that_gives_up_frees_its_slot(one_slot_server):
    with pytest.raises(openai.APITimeoutError):
        sdk(one_slot_server, timeout=0.5).completions.create(model="tiny-chat", prompt="x", **LONG)
    assert quick(one_slot_server) < 2


def test_without_disconnect_the_slot_stays_busy(one_slot_server):
    """The control for the two tests above: a long request really holds the slot."""
    with ThreadPoolExecutor(1) as pool:
        long = pool.submit(
            sdk(one_slot_server).completions.create,
            model="tiny-chat",
            prompt="x",
            max_tokens=2500,
            extra_body={"ignore_eos": True},
        )
        time.sleep(0.3)
        waited = quick(one_slot_server)
        assert long.result().usage.completion_tokens == 2500
    assert waited > 1


def resident_bytes() -> int:
    """Return this process's resident memory (the test servers run in it)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE")


@pytest.fixture(scope="module")
def four_seat_server(tiny_lm, tmp_path_factory):
    """One running slot; four sequences may wait."""
    settings = make_settings(tmp_path_factory, MAX_BATCH_SIZE=1, MAX_QUEUE_SIZE=4)
    with running_server(settings, [chat_spec(tiny_lm)]) as server:
        yield server


async def burst(server, clients: int) -> list:
    """Send ``clients`` concurrent requests (chat, streamed, JSON schema); return the outcomes."""
    sdk = openai.AsyncOpenAI(base_url=f"{server.url}/v1", api_key="none", max_retries=0)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    kinds = [
        {"max_tokens": 200, "extra_body": {"ignore_eos": True}},
        {"max_tokens": 50, "stream": True},
        {"max_tokens": 20, "n": 2},
        {
            "max_tokens": 20,
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": "a", "schema": schema},
            },
        },
    ]

    async def one(i: int):
        try:
            reply = await sdk.chat.completions.create(
                model="tiny-chat", messages=[{"role": "user", "content": f"hi {i}"}], **kinds[i % 4]
            )
            if kinds[i % 4].get("stream"):
                return [chunk async for chunk in reply]
            return reply
        except openai.RateLimitError as error:
            return error

    try:
        return await asyncio.gather(*(one(i) for i in range(clients)))
    finally:
        await sdk.close()


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="reads /proc for memory")
def test_300_concurrent_requests_get_429s_and_memory_stays_flat(four_seat_server):
    waiting = "vllm:num_requests_waiting"
    rounds = []
    for _ in range(3):
        outcomes = asyncio.run(burst(four_seat_server, 300))
        refused = [o for o in outcomes if isinstance(o, openai.RateLimitError)]
        assert 250 <= len(refused) < 300, "a few run or wait; the rest are refused at once"
        assert all(error.response.headers["retry-after"] == "1" for error in refused)
        assert {error.body["code"] for error in refused} == {"queue_full"}
        rounds.append(resident_bytes())
    metrics = httpx.get(f"{four_seat_server.url}/metrics").text
    assert f'{waiting}{{model_name="tiny-chat"}} 0.0' in metrics, "every place was given back"
    assert quick(four_seat_server) < 2
    grown = rounds[-1] - rounds[0]
    assert grown < 40 * 2**20, f"memory grew {grown / 2**20:.0f} MiB over two more bursts"
