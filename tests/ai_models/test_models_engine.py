"""The generation engine and the dynamic batcher, driven directly (no HTTP)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import jsonschema
import pytest
from transformers import AutoModelForCausalLM, AutoTokenizer

from ai_models.backends.loading import configure_cpu_threads
from ai_models.engine.batcher import DynamicBatcher
from ai_models.engine.detokenize import IncrementalDetokenizer
from ai_models.engine.generation import GenerationEngine
from ai_models.engine.grammar import JsonGrammar
from ai_models.engine.queue import Group, WaitQueue
from ai_models.engine.sequence import SamplingParams, Sequence
from ai_models.errors import InvalidRequestError, QueueFullError
from ai_models.metrics import ServerMetrics

GREEDY = SamplingParams(max_tokens=24, temperature=0, ignore_eos=True)


@pytest.fixture(scope="module")
def lm(tiny_lm):
    configure_cpu_threads("cpu", None)  # as the backend does when it loads a model
    tokenizer = AutoTokenizer.from_pretrained(tiny_lm)
    return AutoModelForCausalLM.from_pretrained(tiny_lm).eval(), tokenizer


@pytest.fixture
def metrics():
    return ServerMetrics()


@pytest.fixture
def engine(lm, metrics):
    model, tokenizer = lm
    engine = GenerationEngine(
        model,
        tokenizer,
        stop_token_ids=[tokenizer.eos_token_id],
        max_batch_size=8,
        batch_wait_s=0.01,
        max_queue=64,
        metrics=metrics.for_model("tiny"),
    )
    yield engine
    engine.close()


def steps_larger_than(metrics: ServerMetrics, rows: int) -> float:
    """Count the forward passes that ran more than ``rows`` sequences together."""
    labels = {"model_name": "tiny", "task": "generation"}
    value = metrics.registry.get_sample_value
    return value("paissive:batch_size_count", labels) - value(
        "paissive:batch_size_bucket", {**labels, "le": f"{float(rows)}"}
    )


async def generate(engine, tokenizer, prompt, params=GREEDY, grammar=None, delay=0.0):
    await asyncio.sleep(delay)
    seq = Sequence(tokenizer(prompt)["input_ids"], params, grammar=grammar, context_length=4096)
    engine.submit([seq])
    text = "".join([delta.text async for delta in engine.stream([seq])])
    seq.finished_at = time.monotonic()
    return text, seq


PROMPTS = ["Hello there", "A much longer prompt about passive income ideas", "x"]


def test_batched_greedy_decoding_equals_one_at_a_time(engine, lm, metrics):
    tokenizer = lm[1]

    async def run():
        alone = [await generate(engine, tokenizer, p) for p in PROMPTS]
        assert steps_larger_than(metrics, 1) == 0
        together = await asyncio.gather(*(generate(engine, tokenizer, p) for p in PROMPTS))
        return alone, together

    alone, together = asyncio.run(run())
    # All three shared decode steps (none would with batching off); how many depends on when
    # each arrived, which a busy machine staggers by a step or two.
    assert steps_larger_than(metrics, 2) >= 1, "the three were decoded in one batch"
    assert [seq.generated for _, seq in alone] == [seq.generated for _, seq in together]
    assert [text for text, _ in alone] == [text for text, _ in together]


def test_requests_join_and_leave_a_running_batch(engine, lm, metrics):
    tokenizer = lm[1]
    long = SamplingParams(max_tokens=1000, temperature=0, ignore_eos=True)

    async def run():
        alone = [await generate(engine, tokenizer, p) for p in PROMPTS]
        mixed = await asyncio.gather(
            generate(engine, tokenizer, PROMPTS[0], long),
            generate(engine, tokenizer, PROMPTS[1], delay=0.05),
            generate(engine, tokenizer, PROMPTS[2], delay=0.1),
        )
        return alone, mixed

    alone, mixed = asyncio.run(run())
    assert steps_larger_than(metrics, 1) >= 20, "the later two joined the running one"
    assert max(m[1].finished_at for m in mixed[1:]) < mixed[0][1].finished_at, "without waiting"
    assert mixed[0][1].generated[:24] == alone[0][1].generated
    assert mixed[1][1].generated == alone[1][1].generated
    assert mixed[2][1].generated == alone[2][1].generated


def test_cancelling_a_stream_ends_its_sequence(engine, lm):
    tokenizer = lm[1]

    async def run():
        seq = Sequence(
            tokenizer("x")["input_ids"],
            SamplingParams(max_tokens=3000, ignore_eos=True),
            context_length=4096,
        )
        engine.submit([seq])
        stream = engine.stream([seq])
        await stream.__anext__()
        await stream.aclose()
        await asyncio.sleep(0.2)
        return seq

    seq = asyncio.run(run())
    assert seq.cancelled and len(seq.generated) < 3000
    assert engine.running == 0


def test_json_grammar_holds_for_many_random_runs(engine, lm):
    model, tokenizer = lm
    grammar = JsonGrammar(
        tokenizer, vocab_size=model.config.vocab_size, stop_token_ids=[tokenizer.eos_token_id]
    )
    schema = {
        "type": "object",
        "properties": {
            "items": {
                "type": "array",
                "minItems": 1,
                "maxItems": 3,
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "tag": {"type": "string", "maxLength": 8},
                    },
                    "required": ["id", "tag"],
                },
            },
            "code": {"type": "string", "pattern": "^[A-Z]{2}[0-9]$"},
        },
        "required": ["items", "code"],
    }
    formats = [{"type": "json_object"}, {"type": "json_schema", "json_schema": {"schema": schema}}]

    async def run():
        jobs = []
        for i in range(24):
            params = SamplingParams(
                max_tokens=[2, 30, 90][i % 3], temperature=[0, 1, 2][i % 3], seed=i
            )
            state = grammar.state(grammar.compile(formats[i % 2]))
            jobs.append(generate(engine, tokenizer, "JSON:", params, grammar=state))
        return await asyncio.gather(*jobs)

    for i, (text, seq) in enumerate(asyncio.run(run())):
        value = json.loads(text)
        if i % 2:
            jsonschema.validate(value, schema)
        else:
            assert isinstance(value, dict)
        assert seq.finish_reason == "stop"
        if seq.params.max_tokens == 90:
            assert len(seq.generated) <= 90, "with room to close, max_tokens holds"


def test_wait_queue_bounds_the_waiting_cost_and_discards():
    class Unit:
        def __init__(self, group):
            self.group = group

    queue: WaitQueue[Unit] = WaitQueue(max_cost=4, unit="sequences")
    first, second, reserved, third = Group(), Group(), Group(), Group()
    queue.put([Unit(first), Unit(first), Unit(first)])
    queue.put([Unit(second)])
    with pytest.raises(QueueFullError) as full:
        queue.put([Unit(Group())])
    assert full.value.headers["Retry-After"] == "1"
    assert "4 sequences are waiting" in full.value.message
    queue.discard(first)
    assert (queue.waiting_groups, queue.waiting_cost, len(queue)) == (1, 1, 1)
    queue.reserve(reserved, 3)  # held before its units exist: counts at once
    with pytest.raises(QueueFullError):
        queue.reserve(Group(), 1)
    assert [u.group for u in queue.take(8, wait_s=0)] == [second]
    queue.discard(reserved)  # the reservation was never used
    assert (queue.waiting_groups, queue.waiting_cost) == (0, 0)
    with pytest.raises(InvalidRequestError, match="costs 5 sequences but at most 4"):
        queue.put([Unit(third) for _ in range(5)])
    assert third.cost == 0 and queue.waiting_cost == 0


def test_batcher_groups_concurrent_inputs_and_keeps_order():
    seen: list[int] = []

    def double(values):
        seen.append(len(values))
        time.sleep(0.02)
        return [v * 2 for v in values]

    batcher = DynamicBatcher(double, task="test", max_batch_size=8, batch_wait_s=0.05, max_queue=32)

    async def run():
        return await asyncio.gather(*(batcher.run([i, i + 100]) for i in range(4)))

    try:
        results = asyncio.run(run())
    finally:
        batcher.close()
    assert results == [[2 * i, 2 * (i + 100)] for i in range(4)]
    assert max(seen) == 8


def test_batcher_failure_reaches_every_waiting_request():
    gate = threading.Event()

    def broken(values):
        gate.wait(1)
        raise RuntimeError("boom")

    batcher = DynamicBatcher(broken, task="test", max_batch_size=4, batch_wait_s=0.05, max_queue=8)

    async def run():
        gate.set()
        return await asyncio.gather(batcher.run([1]), batcher.run([2]), return_exceptions=True)

    try:
        errors = asyncio.run(run())
    finally:
        batcher.close()
    assert [type(e).__name__ for e in errors] == ["ModelServiceError", "ModelServiceError"]
    assert "RuntimeError" in str(errors[0])


def test_detokenizer_never_splits_a_character(lm):
    tokenizer = lm[1]
    text = "naïve café — 中文 ok"
    ids = tokenizer(text)["input_ids"]
    detok = IncrementalDetokenizer(tokenizer, [])
    pieces = [detok.step(token) for token in ids] + [detok.flush()]
    assert "".join(pieces) == text
    assert all("\ufffd" not in piece for piece in pieces)
