"""Benchmark the generation engine's KV cache: prefix caching on the agent workload, and the
engine against an earlier one (time to first token and tokens/s at 1, 4 and 16 clients).

    python benchmarks/prefix_cache.py                                  # prefix cache on vs off
    python benchmarks/prefix_cache.py --baseline-src /tmp/old/src      # and against an old engine
    (make an old engine with: git worktree add /tmp/old <commit>)

The engine runs in-process (no HTTP) on a random-weight model with Qwen2.5-0.5B-Instruct's
dimensions (24 layers, 896 hidden, 14/2 heads, 151936-token vocabulary) in bf16, built once into
``--model-dir``. Each variant runs in its own process (so two versions of the engine never share
one); the variants alternate round by round and the medians of the rounds are compared.

Workloads, each with ``--clients`` streaming clients that send their requests one after another:

* ``chat``: 32-token prompts, ``--tokens`` new tokens (greedy, EOS ignored), at 1, 4 and 16
  clients: tokens/s, and the p50 time from submit to first token;
* ``agent``: every prompt is the same ~600-token system prompt and JSON instructions followed by
  a different user message, as the agent team sends them: TTFT p50 and tokens/s. The warm-up
  sends one such request first, as a server running for the agent team has.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS = "passive income niche market segment product plan pricing churn funnel".split()
SYSTEM = (
    "You are the market research agent of a team that builds passive income products. "
    "Answer with one JSON object that follows the schema: "
    '{"niche": string, "segments": [{"name": string, "pain_points": [string], '
    '"importance": integer 1-10}], "summary": string}. '
)


def text(i: int, words: int) -> str:
    """Return a deterministic text of ``words`` words."""
    return " ".join(WORDS[(i * 7 + k) % len(WORDS)] for k in range(words))


def build_model(path: Path, args: argparse.Namespace) -> None:
    """Save a random-weight bf16 model (Qwen2.5-0.5B's dimensions by default) and a tokenizer."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    sys.path.insert(0, str(ROOT / "src"))
    from ai_models.tiny_models import build_tiny_tokenizer

    tokenizer = build_tiny_tokenizer(path)
    config = Qwen2Config(
        vocab_size=args.vocab,
        hidden_size=args.hidden,
        intermediate_size=args.hidden * 4864 // 896,
        num_hidden_layers=args.layers,
        num_attention_heads=args.heads,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=None,
    )
    torch.manual_seed(0)
    Qwen2ForCausalLM(config).to(torch.bfloat16).save_pretrained(str(path))


def prompts(tokenizer, workload: str, count: int) -> list[list[int]]:
    """Return ``count`` prompts (token ids) of ``workload``."""
    if workload == "agent":
        system = tokenizer(SYSTEM * 6)["input_ids"][:600]
        return [system + tokenizer(f" User {i}: " + text(i, 20))["input_ids"] for i in range(count)]
    return [tokenizer(text(i, 16))["input_ids"][:32] for i in range(count)]


def worker(args: argparse.Namespace) -> None:
    """Run every workload on one engine variant; print one JSON line of results."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from ai_models.engine.generation import GenerationEngine
    from ai_models.engine.sequence import SamplingParams, Sequence

    torch.set_num_threads(args.threads)
    tokenizer = AutoTokenizer.from_pretrained(args.model_dir)
    model = AutoModelForCausalLM.from_pretrained(args.model_dir, dtype=torch.bfloat16).eval()
    extra = {} if args.prefix_cache is None else {"prefix_cache_bytes": args.prefix_cache}
    engine = GenerationEngine(
        model,
        tokenizer,
        stop_token_ids=[tokenizer.eos_token_id],
        max_batch_size=16,
        batch_wait_s=0.005,
        max_queue=4096,
        **extra,
    )
    params = SamplingParams(max_tokens=args.tokens, temperature=0, ignore_eos=True)

    async def client(prompt_list: list[list[int]], ttfts: list[float]) -> int:
        done = 0
        for prompt in prompt_list:
            seq = Sequence(prompt, params, context_length=4096)
            engine.submit([seq])
            async for _ in engine.stream([seq]):
                pass
            ttfts.append(seq.first_token_at - seq.arrival)
            done += len(seq.generated)
        return done

    async def run(workload: str, clients: int) -> dict[str, float]:
        all_prompts = prompts(tokenizer, workload, clients * args.requests)
        ttfts: list[float] = []
        started = time.perf_counter()
        per_client = [all_prompts[i::clients] for i in range(clients)]
        tokens = await asyncio.gather(*(client(p, ttfts) for p in per_client))
        seconds = time.perf_counter() - started
        return {"tokens_s": sum(tokens) / seconds, "ttft_p50": statistics.median(ttfts)}

    results = {}
    try:
        asyncio.run(run("chat", 2))  # warm-up; a running agent server has seen its prompt
        asyncio.run(run("agent", 1))
        for workload, clients in args.cases:
            results[f"{workload}/{clients}"] = asyncio.run(run(workload, clients))
    finally:
        engine.close()
    print("RESULT " + json.dumps(results), flush=True)


def main() -> None:
    """Alternate the variants round by round; print medians and ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline-src", help="the src/ folder of an older engine to compare")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=2, help="requests per client")
    parser.add_argument("--tokens", type=int, default=32, help="new tokens per request")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model-dir", default="/tmp/paissive-bench-lm")
    parser.add_argument("--layers", type=int, default=24, help="(of Qwen2.5-0.5B)")
    parser.add_argument("--hidden", type=int, default=896)
    parser.add_argument("--heads", type=int, default=14)
    parser.add_argument("--vocab", type=int, default=151936)
    parser.add_argument("--chat-clients", default="1,4,16")
    parser.add_argument("--agent-clients", default="16")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--prefix-cache", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.cases = [("chat", int(c)) for c in args.chat_clients.split(",") if c] + [
        ("agent", int(c)) for c in args.agent_clients.split(",") if c
    ]
    if args.worker:
        sys.path.insert(0, args.worker)
        worker(args)
        return
    dims = f"{args.layers}x{args.hidden}x{args.heads}x{args.vocab}"
    model_dir = Path(args.model_dir) / dims
    if not (model_dir / "config.json").exists():
        build_model(model_dir, args)
    args.model_dir = str(model_dir)
    variants = {
        "prefix cache": (str(ROOT / "src"), None),
        "no prefix cache": (str(ROOT / "src"), 0),
    }
    if args.baseline_src:
        variants["baseline"] = (args.baseline_src, None)
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    print(
        f"{len(variants)} variants x {args.rounds} rounds, {args.requests} requests per client, "
        f"{args.tokens} new tokens, {args.threads} threads, bf16 random model {dims} "
        "(layers x hidden x heads x vocab)"
    )
    for _ in range(args.rounds):
        for name, (src, cache) in variants.items():
            command = [sys.executable, __file__, "--worker", src, *sys.argv[1:]]
            command += ["--model-dir", args.model_dir]
            if cache is not None:
                command += ["--prefix-cache", str(cache)]
            out = subprocess.run(command, capture_output=True, text=True, check=False)
            lines = [line for line in out.stdout.splitlines() if line.startswith("RESULT ")]
            if not lines:
                sys.exit(f"{name} failed:\n{out.stderr[-3000:]}")
            runs[name].append(json.loads(lines[-1][len("RESULT ") :]))
            print(f"  {name:<16} {lines[-1][len('RESULT ') :]}", flush=True)
    report(runs, args.cases)


def report(runs: dict[str, list[dict]], cases: list[tuple[str, int]]) -> None:
    """Print each variant's medians and the ratios against the new engine with the cache."""
    print()
    ours = "prefix cache"
    for workload, clients in cases:
        key = f"{workload}/{clients}"
        med = {
            name: {m: statistics.median(r[key][m] for r in rs) for m in ("tokens_s", "ttft_p50")}
            for name, rs in runs.items()
        }
        for name, values in med.items():
            line = (
                f"{key:<9} {name:<16} {values['tokens_s']:7.1f} tokens/s   "
                f"TTFT p50 {values['ttft_p50'] * 1000:7.0f} ms"
            )
            if name != ours:
                line += (
                    f"   ours: {med[ours]['tokens_s'] / values['tokens_s']:5.2f}x tokens/s, "
                    f"{med[ours]['ttft_p50'] / values['ttft_p50']:5.2f}x TTFT"
                )
            print(line)


if __name__ == "__main__":
    main()
