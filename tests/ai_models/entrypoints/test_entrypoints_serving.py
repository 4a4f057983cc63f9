"""The serving modules: a streamed chat with several choices and usage, through the official
client; and a stream the client abandons, which frees its place in the engine at once."""

from __future__ import annotations

import asyncio
import time

import pytest
from models_helpers import chat_spec, make_settings

from ai_models.backends import RequestContext, get_backend
from ai_models.entrypoints import protocol, serving_chat, serving_completion
from ai_models.metrics import ServerMetrics


def test_a_streamed_chat_with_two_choices_and_usage(client):
    chunks = list(
        client.chat.completions.create(
            model="tiny-chat",
            messages=[{"role": "user", "content": "Say something"}],
            max_tokens=6,
            n=2,
            stream=True,
            stream_options={"include_usage": True},
            extra_body={"ignore_eos": True},
        )
    )
    *choice_chunks, last = chunks
    assert last.choices == [] and last.usage.completion_tokens == 12
    assert all(chunk.usage is None for chunk in choice_chunks)
    assert len({chunk.id for chunk in chunks}) == 1
    for index in (0, 1):
        mine = [c.choices[0] for c in choice_chunks if c.choices[0].index == index]
        assert mine[0].delta.role == "assistant" and mine[-1].finish_reason == "length"
        assert all(c.finish_reason is None for c in mine[:-1])
    whole = client.chat.completions.create(
        model="tiny-chat", messages=[{"role": "user", "content": "Say something"}], max_tokens=6
    )
    assert last.usage.prompt_tokens == whole.usage.prompt_tokens


@pytest.fixture(scope="module")
def generator(tiny_lm, tmp_path_factory):
    """A local generator loaded in-process, one running slot."""
    settings = make_settings(tmp_path_factory, MAX_BATCH_SIZE=1, MAX_QUEUE_SIZE=2, MAX_TOKENS=16000)
    spec = chat_spec(tiny_lm, context_length=16384)
    model = get_backend("transformers").load(spec, settings, ServerMetrics().for_model(spec.name))
    yield model
    model.close()


def idle(model, within: float = 5) -> bool:
    """Wait until the engine has nothing running or waiting; a 15000-token run takes far longer.

    Idle twice, 0.2 s apart: a request between the queue and its first step shows as neither.
    """
    deadline = time.monotonic() + within
    calm = 0
    while time.monotonic() < deadline and calm < 2:
        engine = model.engine
        calm = calm + 1 if engine.running == 0 and engine.queue.waiting_groups == 0 else 0
        time.sleep(0.2)
    return calm >= 2


def long_completion(stream: bool) -> protocol.CompletionRequest:
    body = {"model": "tiny-chat", "prompt": "x", "max_tokens": 15000, "ignore_eos": True}
    return protocol.CompletionRequest.model_validate({**body, "stream": stream})


def test_an_abandoned_stream_frees_its_slot(generator):
    async def abandon() -> list:
        ctx = RequestContext(metrics=generator.engine.metrics)
        events = await serving_completion.create(generator, long_completion(True), ctx)
        first = await anext(events)
        await events.aclose()  # what the server does when the client goes away
        return [first]

    assert asyncio.run(abandon())[0].startswith(b"data: ")
    assert idle(generator)


def test_a_stream_abandoned_before_its_first_event_frees_its_slot(generator):
    async def abandon() -> None:
        ctx = RequestContext(metrics=generator.engine.metrics)
        request = protocol.ChatCompletionRequest.model_validate(
            {
                "model": "tiny-chat",
                "messages": [{"role": "user", "content": "x"}],
                "max_tokens": 15000,
                "ignore_eos": True,
                "stream": True,
            }
        )
        events = await serving_chat.create(generator, request, ctx)
        await events.aclose()

    asyncio.run(abandon())
    assert idle(generator)


def test_a_whole_answer_whose_client_left_frees_its_slot(generator):
    async def leave() -> None:
        ctx = RequestContext(metrics=generator.engine.metrics)
        asyncio.get_running_loop().call_later(0.2, ctx.disconnected.set)
        await serving_completion.create(generator, long_completion(False), ctx)

    from ai_models.errors import CancelledRequest

    with pytest.raises(CancelledRequest):
        asyncio.run(leave())
    assert idle(generator)


def test_the_control_a_running_stream_holds_its_slot(generator):
    """Without abandoning, the engine is still busy: the tests above measure something."""

    async def keep() -> bool:
        ctx = RequestContext(metrics=generator.engine.metrics)
        events = await serving_completion.create(generator, long_completion(True), ctx)
        await anext(events)
        busy = not await asyncio.to_thread(idle, generator)
        await events.aclose()
        return busy

    assert asyncio.run(keep())
    assert idle(generator)
