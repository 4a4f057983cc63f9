"""The llama-cpp backend's side of the backend contract, on the real SmolLM2 GGUF: ``generate``
yields ``Delta``s indexed ``prompt * n + choice``, refuses a full queue before any stream starts,
and stops the work when its iterator is abandoned."""

from __future__ import annotations

import asyncio

import pytest
from gguf_helpers import gguf_spec

from ai_models.backends import get_backend
from ai_models.backends.base import GenerateRequest, RequestContext
from ai_models.config import ModelServiceSettings
from ai_models.engine.sequence import SamplingParams
from ai_models.errors import InvalidRequestError, QueueFullError
from ai_models.metrics import ServerMetrics

pytest.importorskip(
    "llama_cpp",
    reason='llama-cpp-python is not installed (pip install "paissive-income[gguf]")',
)


@pytest.fixture(scope="module")
def model():
    """The SmolLM2 GGUF loaded through the llama-cpp backend, four sequences allowed to wait."""
    settings = ModelServiceSettings(MAX_QUEUE_SIZE=4, MAX_TOKENS=512)
    metrics = ServerMetrics().for_model("smollm2")
    loaded = get_backend("llama-cpp").load(gguf_spec(), settings, metrics)
    loaded.warm_up()
    yield loaded
    loaded.close()


def _ctx(model) -> RequestContext:
    return RequestContext(metrics=model.metrics)


async def _texts(model, request: GenerateRequest) -> dict[int, tuple[str, str | None]]:
    texts: dict[int, tuple[str, str | None]] = {}
    async for delta in await model.generate(request, _ctx(model)):
        text, _ = texts.get(delta.index, ("", None))
        texts[delta.index] = (text + delta.text, delta.finish_reason)
    return texts


def test_the_model_reports_its_limits_and_renders_its_chat_template(model):
    assert model.context_length == 1024 and model.max_tokens == 512
    assert model.vocab_size == 49152
    ids = model.render_chat([{"role": "user", "content": "Hello"}])
    assert model.detokenize(ids).endswith("user\nHello\nassistant\n")  # ChatML, markers dropped
    assert model.tokenize("Hello world") and model.detokenize(model.tokenize("Hi")) == "Hi"


def test_deltas_are_indexed_by_prompt_and_choice(model):
    prompts = [model.tokenize("Once upon a time"), model.tokenize("The sea is")]
    params = [SamplingParams(max_tokens=5, temperature=1.0, seed=1)] * 2
    texts = asyncio.run(_texts(model, GenerateRequest(prompts=prompts, params=params, n=2)))
    assert sorted(texts) == [0, 1, 2, 3]
    assert all(reason in ("stop", "length") for _, reason in texts.values())


def test_a_full_queue_refuses_before_streaming_and_abandoning_stops_the_work(model):
    long = SamplingParams(max_tokens=500, temperature=0, ignore_eos=True)
    prompt = [model.tokenize("Tell a long story.")]

    async def scenario() -> int:
        running = await model.generate(GenerateRequest(prompt, [long]), _ctx(model))
        first = await running.__anext__()  # the worker took it: the queue is empty again
        waiting = await model.generate(GenerateRequest(prompt, [long], n=4), _ctx(model))
        with pytest.raises(QueueFullError):
            await model.generate(GenerateRequest(prompt, [long]), _ctx(model))
        with pytest.raises(InvalidRequestError) as caught:  # could never fit: 400, not 429
            await model.generate(GenerateRequest(prompt, [long], n=5), _ctx(model))
        assert caught.value.param == "n"
        await waiting.aclose()
        await running.aclose()
        short = SamplingParams(max_tokens=3, temperature=0)
        async for _ in await model.generate(GenerateRequest(prompt, [short]), _ctx(model)):
            pass
        return first.completion_tokens

    before = model.metrics.generation_tokens._value.get()
    asyncio.run(scenario())
    assert model.metrics.generation_tokens._value.get() - before < 500  # nothing ran to its end
