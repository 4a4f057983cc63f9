"""Joins and leaves of a running batch never change another sequence's output.

Any schedule of arrivals (different prompt lengths, ``n`` > 1, ``max_tokens`` 1, prompts sharing
a prefix) and departures (length, EOS, stop strings, cancellation) must give every sequence the
same greedy tokens as decoding it alone — on the slotted KV cache with and without the prefix
cache (also one small enough to evict), and on the padded one. The model runs in float64, with
weights large enough that greedy output depends on the context: the rounding differences that
padding and batching bring are then far below any gap between the two best logits, so a
comparison of exact token ids is sound.
"""

from __future__ import annotations

import asyncio
import functools

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from transformers import AutoModelForCausalLM, AutoTokenizer, DynamicCache

from ai_models.engine.detokenize import IncrementalDetokenizer
from ai_models.engine.generation import GenerationEngine
from ai_models.engine.prefix_cache import PrefixCache
from ai_models.engine.sampling import choose_tokens
from ai_models.engine.scheduler import BatchScheduler
from ai_models.engine.sequence import SamplingParams, Sequence
from ai_models.engine.slots import SlotBatch
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


SHARED = [7 + (i * 37) % 390 for i in range(60)]  # a "system prompt" some requests start with

request = st.fixed_dictionaries(
    {
        "arrival": st.integers(0, 10),
        "shared": st.sampled_from([0, 0, 15, 16, 17, 33, 48, 60]),
        "prompt": st.lists(st.integers(3, 400), min_size=1, max_size=20),
        "max_tokens": st.sampled_from([1, 1, 2, 3, 5, 8, 13]),
        "n": st.integers(1, 3),
        "stop": st.sampled_from([(), ("e",), ("a", "o"), (" ",)]),
        "ignore_eos": st.booleans(),
        "presence_penalty": st.sampled_from([0.0, 1.5]),
        "cancel_after": st.none() | st.integers(0, 8),
    }
)


def run_schedule(model, tokenizer, requests, max_batch_size, *, slotted=None, cache_bytes=0):
    """Drive a ``BatchScheduler`` through ``requests``; return each request's sequences."""
    scheduler = BatchScheduler(
        model,
        pad_id=tokenizer.pad_token_id,
        stop_ids={tokenizer.eos_token_id},
        max_batch_size=max_batch_size,
        slotted=slotted,
        prefix_cache_bytes=cache_bytes,
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
        prompt = SHARED[: r.get("shared", 0)] + r["prompt"]
        made.append([new_sequence(tokenizer, prompt, params) for _ in range(r["n"])])
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
    run_schedule.scheduler = scheduler
    return made


def block_bytes(model) -> int:
    """Return the size of one prefix-cache block of ``model`` (16 positions, every layer)."""
    config = model.config
    head_dim = config.hidden_size // config.num_attention_heads
    per_position = config.num_hidden_layers * 2 * config.num_key_value_heads * head_dim
    return 16 * per_position * model.dtype.itemsize


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    requests=st.lists(request, min_size=1, max_size=7),
    max_batch_size=st.integers(1, 6),
    kv=st.sampled_from(["slots", "slots", "slots+prefix", "slots+tiny prefix", "padded"]),
)
def test_any_schedule_of_joins_and_leaves_keeps_every_output(
    sharp_lm, requests, max_batch_size, kv
):
    model, tokenizer = sharp_lm
    cache_bytes = {"slots+prefix": 2**30, "slots+tiny prefix": 3 * block_bytes(model)}.get(kv, 0)
    made = run_schedule(
        model,
        tokenizer,
        requests,
        max_batch_size,
        slotted=kv != "padded",
        cache_bytes=cache_bytes,
    )
    prefix_cache = run_schedule.scheduler.prefix_cache
    if prefix_cache is not None:
        assert prefix_cache.bytes <= cache_bytes
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


def test_a_shared_prefix_is_computed_once_and_changes_no_output(sharp_lm):
    """Requests that start with the same 60 tokens reuse its blocks; every output is unchanged."""
    model, tokenizer = sharp_lm
    requests = [
        {"arrival": step, "prompt": [100 + step, 3, 9 + step], "shared": 60, "max_tokens": 8}
        for step in (0, 0, 3, 6, 6, 9)
    ]
    for r in requests:
        r.update(n=1, stop=(), ignore_eos=True, presence_penalty=0.0, cancel_after=None)
    made = run_schedule(model, tokenizer, requests, 4, cache_bytes=2**30)
    prefix_cache = run_schedule.scheduler.prefix_cache
    # the first two arrive together and compute it; the four later ones take 3 blocks each
    assert prefix_cache.hit_tokens == 4 * 48
    for seqs in made:
        alone = decode_alone(model, tokenizer, seqs[0].prompt_ids, seqs[0].params)
        assert seqs[0].generated == alone.generated


def test_prefix_cache_evicts_least_recently_used_leaves_first(sharp_lm):
    model, tokenizer = sharp_lm
    batch = SlotBatch(model, pad_id=0, max_slots=2, device=torch.device("cpu"))
    size = block_bytes(model)
    cache = PrefixCache(4 * size)
    first, second = list(range(10, 74)), list(range(10, 42)) + list(range(200, 232))
    with torch.inference_mode():
        for prompt in (first, second):
            batch.add([new_sequence(tokenizer, prompt, SamplingParams(max_tokens=1))])
            cache.store(prompt, functools.partial(batch.cache.read, batch.size - 1))
    # first: 4 blocks; second shares 2 of them and adds 2: the first's two leaves go
    assert cache.bytes == 4 * size and len(cache) == 4
    assert len(cache.lookup(second + [5])) == 4
    assert len(cache.lookup(first + [5])) == 2
    assert cache.hit_tokens == 6 * 16
    assert len(cache.lookup(second)) == 3, "one token is always left to compute"


@pytest.mark.parametrize("kind", ["llama", "qwen2-eager"])
def test_other_models_and_eager_attention_decode_as_alone(tmp_path, kind):
    from transformers import LlamaConfig, LlamaForCausalLM

    if kind == "llama":
        path = build_tiny_causal_lm(tmp_path / "qwen", init_std=0.3)
        config = AutoModelForCausalLM.from_pretrained(path).config
        llama = LlamaConfig(
            vocab_size=config.vocab_size,
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            initializer_range=0.3,
        )
        torch.manual_seed(0)
        model = LlamaForCausalLM(llama).to(torch.float64).eval()
    else:
        path = build_tiny_causal_lm(tmp_path / "qwen", init_std=0.3)
        model = AutoModelForCausalLM.from_pretrained(
            path, dtype=torch.float64, attn_implementation="eager"
        ).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    requests = [
        {"arrival": a, "prompt": p, "shared": s, "max_tokens": 6, "n": 2, "cancel_after": None}
        for a, p, s in [(0, [5, 6], 33), (0, [9], 0), (2, [8, 8, 8], 33), (4, [3], 17)]
    ]
    for r in requests:
        r.update(stop=(), ignore_eos=True, presence_penalty=0.0)
    made = run_schedule(model, tokenizer, requests, 3, cache_bytes=2**30)
    assert run_schedule.scheduler.slotted and run_schedule.scheduler.prefix_cache.hit_tokens
    for seqs in made:
        alone = decode_alone(model, tokenizer, seqs[0].prompt_ids, seqs[0].params)
        assert [seq.generated for seq in seqs] == [alone.generated] * 2
