"""Joins and leaves of a running batch never change another sequence's output.

Any schedule of arrivals (different prompt lengths, ``n`` > 1, ``max_tokens`` 1) and departures
(length, EOS, stop strings, cancellation) must give every sequence the same greedy tokens as
decoding it alone. The model runs in float64, with weights large enough that greedy output
depends on the context: the rounding differences that left padding brings are then far below
any gap between the two best logits, so a comparison of exact token ids is sound.
"""

from __future__ import annotations

import asyncio

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from ai_models.engine.detokenize import IncrementalDetokenizer
from ai_models.engine.generation import GenerationEngine
from ai_models.engine.sampling import choose_tokens
from ai_models.engine.scheduler import BatchScheduler
from ai_models.engine.sequence import SamplingParams, Sequence
from ai_models.tiny_models import build_tiny_causal_lm

CONTEXT = 4096


@pytest.fixture(scope="module")
def sharp_lm(tmp_path_factory):
    """Return a float64 tiny model whose greedy output varies with context, and its tokenizer."""
    path = build_tiny_causal_lm(tmp_path_factory.mktemp("sharp-lm"), init_std=0.3)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float64).eval()
    return model, AutoTokenizer.from_pretrained(path)


def new_sequence(tokenizer, prompt: list[int], params: SamplingParams) -> Sequence:
    seq = Sequence(prompt, params, context_length=CONTEXT)
    seq.detokenizer = IncrementalDetokenizer(tokenizer, prompt)
    return seq


@torch.inference_mode()
def decode_alone(model, tokenizer, prompt: list[int], params: SamplingParams) -> Sequence:
    """Decode one sequence by itself: no padding, no batch, no scheduler."""
    seq = new_sequence(tokenizer, prompt, params)
    stops = {tokenizer.eos_token_id}
    cache, inputs = DynamicCache(config=model.config), torch.tensor([prompt])
    while not seq.done:
        logits = model(input_ids=inputs, cache=cache, use_cache=True).logits[:, -1]
        token = choose_tokens(logits, [seq], torch.tensor(sorted(stops)))[0]
        seq.accept(token, stops)
        inputs = torch.tensor([[token]])
    return seq


request = st.fixed_dictionaries(
    {
        "arrival": st.integers(0, 10),
        "prompt": st.lists(st.integers(3, 400), min_size=1, max_size=20),
        "max_tokens": st.sampled_from([1, 1, 2, 3, 5, 8, 13]),
        "n": st.integers(1, 3),
        "stop": st.sampled_from([(), ("e",), ("a", "o"), (" ",)]),
        "ignore_eos": st.booleans(),
        "presence_penalty": st.sampled_from([0.0, 1.5]),
        "cancel_after": st.none() | st.integers(0, 8),
    }
)


def run_schedule(model, tokenizer, requests, max_batch_size):
    """Drive a ``BatchScheduler`` through ``requests``; return each request's sequences."""
    scheduler = BatchScheduler(
        model,
        pad_id=tokenizer.pad_token_id,
        stop_ids={tokenizer.eos_token_id},
        max_batch_size=max_batch_size,
    )
    made = []
    for r in requests:
        params = SamplingParams(
            max_tokens=r["max_tokens"],
            temperature=0,
            stop=r["stop"],
            ignore_eos=r["ignore_eos"],
            presence_penalty=r["presence_penalty"],
        )
        made.append([new_sequence(tokenizer, r["prompt"], params) for _ in range(r["n"])])
    waiting: list[Sequence] = []
    step = 0
    with torch.inference_mode():
        while step <= 10 or waiting or scheduler.batch is not None:
            for r, seqs in zip(requests, made, strict=True):
                if r["cancel_after"] is not None and step == r["arrival"] + r["cancel_after"]:
                    for seq in seqs:
                        seq.cancelled = seq.finish_reason is None
                if r["arrival"] == step:
                    waiting += seqs
            scheduler.decode()
            waiting = [seq for seq in waiting if not seq.cancelled]
            room = scheduler.room
            scheduler.admit(waiting[:room])
            waiting = waiting[room:]
            step += 1
    return made


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(requests=st.lists(request, min_size=1, max_size=7), max_batch_size=st.integers(1, 6))
def test_any_schedule_of_joins_and_leaves_keeps_every_output(sharp_lm, requests, max_batch_size):
    model, tokenizer = sharp_lm
    made = run_schedule(model, tokenizer, requests, max_batch_size)
    for seqs in made:
        alone = decode_alone(model, tokenizer, seqs[0].prompt_ids, seqs[0].params)
        for seq in seqs:
            if seq.cancelled:
                assert seq.generated == alone.generated[: len(seq.generated)]
            else:
                assert seq.generated == alone.generated
                assert (seq.text, seq.finish_reason) == (alone.text, alone.finish_reason)


def test_one_token_requests_joining_running_streams(sharp_lm):
    """The issue's case through the threaded engine: 10 streams, then max_tokens=1 joiners."""
    model, tokenizer = sharp_lm
    engine = GenerationEngine(
        model,
        tokenizer,
        stop_token_ids=[tokenizer.eos_token_id],
        max_batch_size=16,
        batch_wait_s=0.005,
        max_queue=64,
    )
    long = SamplingParams(max_tokens=60, temperature=0, ignore_eos=True)
    one = SamplingParams(max_tokens=1, temperature=0)
    prompts = [tokenizer(f"stream {i} " * (i + 1))["input_ids"] for i in range(10)]

    async def generate(prompt, params, delay):
        await asyncio.sleep(delay)
        seq = new_sequence(tokenizer, prompt, params)
        engine.submit([seq])
        async for _ in engine.stream([seq]):
            pass
        return seq

    async def run():
        streams = [generate(p, long, 0) for p in prompts]
        joiners = [generate(prompts[i][:2], one, 0.02 + 0.01 * i) for i in range(8)]
        return await asyncio.gather(*streams, *joiners)

    try:
        done = asyncio.run(run())
    finally:
        engine.close()
    for seq in done:
        alone = decode_alone(model, tokenizer, seq.prompt_ids, seq.params)
        assert (seq.generated, seq.finish_reason) == (alone.generated, alone.finish_reason)
